require ["spamtestplus", "fileinto"];
# plain.eml has X-Spam-Score but no X-Spam-Status: not tested
if spamtest "0" { fileinto "Untested"; }
if spamtest :percent "0" { fileinto "Untested-Percent"; }
