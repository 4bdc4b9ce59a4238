# reference: no - RFC 5260 section 6: ":index 1 :last" is the last field; Pigeonhole 0.5 ignores :index in the date test and reads the first
# message: dated.eml
require ["date", "index", "fileinto"];
if date :index 1 :last :originalzone "received" "zone" "+0000" { fileinto "last-received"; }
