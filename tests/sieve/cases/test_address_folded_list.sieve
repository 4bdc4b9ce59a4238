# message: folded.eml
require ["relational", "comparator-i;ascii-numeric"];
if address :count "eq" :comparator "i;ascii-numeric" "to" "2" { redirect "two@example.net"; }
if address :is "to" "b@example.org" { redirect "b@example.net"; }
