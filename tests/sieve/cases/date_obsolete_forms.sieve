# message: dated.eml
require ["date", "fileinto"];
# RFC 5322 4.3: a two-digit year and GMT; a comment and EST (-0500)
if date :zone "+0000" "x-old-date" "date" "2024-01-01" { fileinto "two-digit-year"; }
if date :originalzone "x-old-date" "zone" "+0000" { fileinto "gmt"; }
if date :zone "+0000" "resent-date" "time" "13:00:00" { fileinto "est"; }
