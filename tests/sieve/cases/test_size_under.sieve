if size :under 1K { redirect "under@example.net"; }
if size :under 100 { discard; }
