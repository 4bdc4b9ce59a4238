# message: nested.eml
require ["mime", "fileinto", "relational"];
# the options may come before :mime, among the other tags
if header :anychild :value "eq" :contenttype :mime "Content-Type" "application/pdf" { fileinto "Pdf"; }
