# message: spam_mid.eml
require ["virustest", "fileinto"];
if virustest "1" { fileinto "Clean"; }
if virustest "0" { fileinto "Untested"; }
