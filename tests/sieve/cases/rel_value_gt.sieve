require ["relational", "comparator-i;ascii-numeric"];
if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { redirect "spam@example.net"; }
if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10" { discard; }
