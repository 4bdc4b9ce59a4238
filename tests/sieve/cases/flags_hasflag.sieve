require ["imap4flags", "fileinto", "variables", "relational", "comparator-i;ascii-numeric"];
setflag "v" "one two";
if hasflag :is "v" ["one", "zzz"] { fileinto "Has1"; }
if hasflag :is "v" "one two" { fileinto "Has2"; }
if hasflag :count "eq" :comparator "i;ascii-numeric" "v" "2" { fileinto "Count2"; }
addflag "\\Flagged";
if hasflag :contains "\\FLAGGED" { fileinto "Internal"; }
if hasflag :matches ["v", "w"] "t*" { fileinto "Matches"; }
if not hasflag "nothing" { fileinto "None"; }
