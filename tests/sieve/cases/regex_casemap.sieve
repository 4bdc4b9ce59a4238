require "regex";
if header :regex "subject" "quarterly" { redirect "ci@example.net"; }
if header :regex :comparator "i;octet" "subject" "quarterly" { discard; }
