# message: lists.eml
if address :is "to" "discuss@lists.example.net" { redirect "grp@example.net"; }
