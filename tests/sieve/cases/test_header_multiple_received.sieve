if header :contains "received" "client.example.com" { redirect "second@example.net"; }
