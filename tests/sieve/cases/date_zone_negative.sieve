# message: dated.eml
require ["date", "variables", "fileinto"];
# the same instant seen from -1100 is still the previous day
if date :zone "-1100" :matches "date" "iso8601" "*" { set "iso" "${0}"; }
if string "${iso}" "2023-12-31T15:45:30-11:00" { fileinto "iso-ok"; }
if date :zone "-1100" :matches "date" "std11" "*" { set "std" "${0}"; }
if string "${std}" "Sun, 31 Dec 2023 15:45:30 -1100" { fileinto "std11-ok"; }
if date :zone "+0000" "date" "iso8601" "2024-01-01T02:45:30Z" { fileinto "utc-is-z"; }
if date :zone "-1100" "date" "weekday" "0" { fileinto "sunday"; }
