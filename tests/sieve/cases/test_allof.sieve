if allof (exists "from", header :contains "subject" "report") { redirect "allof@example.net"; }
if allof (true, false) { discard; }
