if address :domain :is "cc" "sub.example.net" { redirect "dom@example.net"; }
if address :domain :is "cc" "example.net" { discard; }
