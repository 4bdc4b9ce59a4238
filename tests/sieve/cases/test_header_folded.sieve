# message: folded.eml
if header :is "subject" "folded  subject line" { redirect "fold@example.net"; }
if header :matches "subject" "folded*line" { redirect "fold2@example.net"; }
