# message: latin1.eml
if header :contains "subject" "Café" { redirect "cafe@example.net"; }
