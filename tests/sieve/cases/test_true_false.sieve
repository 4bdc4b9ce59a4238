if true { redirect "t@example.net"; }
if false { redirect "f@example.net"; }
