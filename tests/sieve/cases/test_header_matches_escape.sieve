if header :matches "subject" "Quarterly report for Q\\?" { discard; }
if header :matches "subject" "*Q?" { redirect "esc@example.net"; }
