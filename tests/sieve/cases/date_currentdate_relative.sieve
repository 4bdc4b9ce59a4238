require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
# the clock is now in both implementations: compare what holds for years
if currentdate :value "ge" :comparator "i;ascii-numeric" "year" "2024" { fileinto "recent"; }
if currentdate :value "lt" :comparator "i;ascii-numeric" "year" "2100" { fileinto "not-future"; }
if currentdate :zone "+0000" :matches "iso8601" "*Z" { fileinto "utc"; }
if currentdate :zone "+0530" :matches "zone" "+0530" { fileinto "zone"; }
