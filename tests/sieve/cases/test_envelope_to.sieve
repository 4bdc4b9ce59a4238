require "envelope";
if envelope :domain "to" "example.org" { redirect "envto@example.net"; }
