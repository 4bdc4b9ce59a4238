# message: dated.eml
require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
# business hours: 21:45 in New York is after 18:00
if date :value "ge" :originalzone :comparator "i;ascii-numeric" "date" "hour" "18" {
	fileinto "after-hours";
}
if date :value "lt" :zone "+0000" :comparator "i;ascii-numeric" "date" "julian" "60311" {
	fileinto "before-mjd";
}
if date :count "eq" :comparator "i;ascii-numeric" "date" "year" "1" { fileinto "one-value"; }
