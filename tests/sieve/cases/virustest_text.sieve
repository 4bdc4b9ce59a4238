# message: spam_high.eml
require ["virustest", "fileinto", "relational", "comparator-i;ascii-numeric"];
if virustest :value "ge" :comparator "i;ascii-numeric" "4" { fileinto "Quarantine"; }
