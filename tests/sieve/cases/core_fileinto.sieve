require "fileinto";
fileinto "Reports";
