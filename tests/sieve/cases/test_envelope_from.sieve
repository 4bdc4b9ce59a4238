require "envelope";
if envelope :is "from" "alice@example.com" { redirect "env@example.net"; }
