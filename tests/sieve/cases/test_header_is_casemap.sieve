if header :is "subject" "QUARTERLY REPORT FOR Q2" { redirect "ci@example.net"; }
