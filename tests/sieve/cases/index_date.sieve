# reference: no - RFC 5260 section 6: :index applies to the date test; Pigeonhole 0.5 ignores it there and reads the first field
# message: dated.eml
require ["date", "index", "fileinto"];
# the second field is folded before its date
if date :index 2 :originalzone "received" "zone" "-0300" { fileinto "second-zone"; }
if date :index 2 :zone "+0000" "received" "time" "02:50:00" { fileinto "second-time"; }
if date :index 3 :originalzone "received" "zone" "+0000" { fileinto "third-gmt"; }
if date :index 4 "received" "year" "2024" { fileinto "no-fourth"; }
