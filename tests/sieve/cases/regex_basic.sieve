require "regex";
if header :regex "subject" "^Quarterly report for Q[0-9]$" { redirect "re@example.net"; }
