require ["relational", "comparator-i;ascii-numeric"];
if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { redirect "many@example.net"; }
if address :count "gt" :comparator "i;ascii-numeric" ["to", "cc"] "3" { discard; }
