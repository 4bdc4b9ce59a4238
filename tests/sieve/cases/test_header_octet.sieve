if header :is :comparator "i;octet" "subject" "QUARTERLY REPORT FOR Q2" { discard; }
if header :comparator "i;octet" :is "subject" "Quarterly report for Q2" { redirect "octet@example.net"; }
