if address :localpart :is "to" "carol" { redirect "local@example.net"; }
