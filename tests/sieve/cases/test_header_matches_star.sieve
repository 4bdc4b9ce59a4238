if header :matches "subject" "*report*" { redirect "m1@example.net"; }
if header :matches "subject" "report*" { discard; }
