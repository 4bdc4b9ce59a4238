# message: dated.eml
require ["date", "fileinto"];
# the date of a Received field is the text after its last ";" (the first field)
if date :zone "+0000" "received" "time" "02:00:15" { fileinto "first-received"; }
if date :originalzone "received" "zone" "-0230" { fileinto "half-hour-zone"; }
