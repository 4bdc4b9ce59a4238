# message: dated.eml
require ["date", "fileinto"];
# a missing field or one that holds no date makes the test false
if date :zone "+0000" :matches "x-bad-date" "year" "*" { fileinto "bad"; }
if date :zone "+0000" :matches "x-missing" "year" "*" { fileinto "missing"; }
if not date :zone "+0000" :matches "subject" "year" "*" { fileinto "none"; }
