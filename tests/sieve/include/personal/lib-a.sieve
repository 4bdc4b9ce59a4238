require "fileinto";
fileinto "from-lib-a";
