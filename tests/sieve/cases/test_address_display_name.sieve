if address :contains "cc" "Dave" { discard; }
if address :contains "cc" "dave" { redirect "dave@example.net"; }
