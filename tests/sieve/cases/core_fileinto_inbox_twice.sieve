require "fileinto";
fileinto "inbox";
fileinto "INBOX";
