if size :over 500 { redirect "over@example.net"; }
if size :over 10K { discard; }
