require "fileinto";
fileinto "bottom";
