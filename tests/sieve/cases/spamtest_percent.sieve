# message: spam_mid.eml
require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric", "variables"];
if spamtest :percent :matches "*" { set "pct" "${1}"; }
if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "50" { fileinto "Half-${pct}"; }
if spamtest :percent :value "gt" :comparator "i;ascii-numeric" "50" { fileinto "More"; }
