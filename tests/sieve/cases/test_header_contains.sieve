if header :contains ["to", "cc"] "boss" { redirect "boss@example.net"; }
