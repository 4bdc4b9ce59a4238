require ["editheader", "relational", "comparator-i;ascii-numeric"];
deleteheader "received";
if header :count "eq" :comparator "i;ascii-numeric" "received" "2" { redirect "protected@example.net"; }
