require "editheader";
addheader "X-Note" "Grüße";
if header :is "x-note" "Grüße" { redirect "utf8@example.net"; }
