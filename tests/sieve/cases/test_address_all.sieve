if address :is "from" "alice@example.com" { redirect "addr@example.net"; }
