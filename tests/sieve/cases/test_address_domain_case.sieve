if address :domain :is "to" "EXAMPLE.org" { redirect "case@example.net"; }
