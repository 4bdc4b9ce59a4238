IF HEADER :CONTAINS "Subject" "report" { Redirect "case@example.net"; }
