if header :contains "x-mailer" "" { redirect "empty@example.net"; }
if header :contains "x-missing" "" { discard; }
