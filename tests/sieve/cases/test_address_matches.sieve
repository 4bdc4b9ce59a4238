# message: lists.eml
if address :matches :domain "from" "*.example.net" { redirect "lists@example.net"; }
