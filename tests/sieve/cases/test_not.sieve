if not exists "x-nonexistent" { redirect "not@example.net"; }
