# message: spam_high.eml
require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { fileinto "Junk"; }
elsif spamtest :value "ge" :comparator "i;ascii-numeric" "4" { fileinto "Maybe"; }
elsif spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "Untested"; }
elsif spamtest "1" { fileinto "Clean"; }
