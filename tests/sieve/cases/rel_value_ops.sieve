# message: lists.eml
require ["relational", "comparator-i;ascii-numeric"];
if header :value "eq" :comparator "i;ascii-numeric" "x-count" "42" { redirect "eq@example.net"; }
if header :value "ne" :comparator "i;ascii-numeric" "x-count" "42" { redirect "ne@example.net"; }
if header :value "le" :comparator "i;ascii-numeric" "x-count" "42" { redirect "le@example.net"; }
if header :value "lt" :comparator "i;ascii-numeric" "x-count" "42" { redirect "lt@example.net"; }
