# to: bob+lists@example.org
require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "lists" { fileinto "Lists"; }
if envelope :user "to" "bob" { redirect "user@example.net"; }
