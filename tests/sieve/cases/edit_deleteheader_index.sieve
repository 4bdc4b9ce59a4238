require ["editheader", "relational", "comparator-i;ascii-numeric"];
deleteheader :index 1 "received";
deleteheader :index 2 "cc";
addheader "Cc" "one@example.net";
addheader :last "Cc" "two@example.net";
deleteheader :index 1 :last "cc";
if header :count "eq" :comparator "i;ascii-numeric" "cc" "2" { redirect "two@example.net"; }
