# message: dated.eml
require ["date", "variables", "fileinto"];
if date :originalzone "date" "zone" "-0500" { fileinto "zone-kept"; }
if date :originalzone "date" "time" "21:45:30" { fileinto "time-kept"; }
if date :originalzone :matches "date" "iso8601" "*" { set "iso" "${0}"; }
if string "${iso}" "2023-12-31T21:45:30-05:00" { fileinto "iso-kept"; }
if date :originalzone "date" "year" "2023" { fileinto "still-2023"; }
