# expect: error
require "fileinto";
fileinto ["a", "b"];
