# message: dated.eml
require ["date", "variables", "fileinto"];
# 21:45:30 -0500 is 02:45:30 on 1 January 2024 UTC, 04:15:30 in +0130
if date :zone "+0130" :matches "date" "year" "*" { set "year" "${0}"; }
if date :zone "+0130" :matches "date" "month" "*" { set "month" "${0}"; }
if date :zone "+0130" :matches "date" "day" "*" { set "day" "${0}"; }
if date :zone "+0130" :matches "date" "hour" "*" { set "hour" "${0}"; }
if date :zone "+0130" :matches "date" "minute" "*" { set "minute" "${0}"; }
if date :zone "+0130" :matches "date" "second" "*" { set "second" "${0}"; }
if date :zone "+0130" :matches "date" "weekday" "*" { set "weekday" "${0}"; }
if date :zone "+0130" :matches "date" "julian" "*" { set "julian" "${0}"; }
if date :zone "+0130" :matches "date" "zone" "*" { set "zone" "${0}"; }
fileinto "y${year}.m${month}.d${day}.h${hour}.i${minute}.s${second}.w${weekday}.j${julian}";
if date :zone "+0130" "date" "date" "2024-01-01" { fileinto "date-ok"; }
if date :zone "+0130" "date" "time" "04:15:30" { fileinto "time-ok"; }
if string "${zone}" "+0130" { fileinto "zone-ok"; }
