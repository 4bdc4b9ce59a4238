# expect: error
keep;
require "fileinto";
