# message: folded.eml
if header :is "x-trailing" "value" { redirect "trim@example.net"; }
if header :is "x-empty" "" { redirect "empty@example.net"; }
