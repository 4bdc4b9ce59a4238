# message: lists.eml
require ["subaddress"];
if address :detail "cc" "lists" { redirect "hdr@example.net"; }
