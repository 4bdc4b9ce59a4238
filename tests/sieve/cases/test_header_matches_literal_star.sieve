if header :matches "subject" "Quarterly\\*" { discard; }
if header :matches "x-mailer" "Example*1.0" { redirect "lit@example.net"; }
