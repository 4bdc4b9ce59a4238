if header :is "subject" "Quarterly \report\ for \"Q2\"" { discard; }
if header :is "subject" "Quarterly report for Q2" { redirect "plain@example.net"; }
