# message: folded.eml
if address :localpart :is "from" "root" { redirect "root@example.net"; }
if address :domain :is "from" "" { discard; }
