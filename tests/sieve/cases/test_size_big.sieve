# message: big.eml
if size :over 20K { redirect "big@example.net"; }
if size :under 1M { redirect "small@example.net"; }
