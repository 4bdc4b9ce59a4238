require "envelope";
if envelope :localpart :is "to" "bob" { redirect "lp@example.net"; }
