if header :matches "x-spam-score" "?" { redirect "q1@example.net"; }
if header :matches "x-spam-score" "??" { discard; }
