require ["reject", "fileinto"];
fileinto "Reports";
reject "no";
