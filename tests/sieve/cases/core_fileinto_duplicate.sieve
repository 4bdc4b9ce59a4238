require "fileinto";
fileinto "Reports";
fileinto "Reports";
keep;
