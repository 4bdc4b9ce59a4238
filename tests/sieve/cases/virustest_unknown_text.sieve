# message: spam_low.eml
require ["virustest", "fileinto"];
if virustest "0" { fileinto "Untested"; }
