# to: bob@example.org
# to: carol@example.org
# to: dave@example.org
# reference: no - several recipients
require ["envelope", "fileinto"];
if envelope :is "to" "bob@example.org" { fileinto "Bob"; }
if envelope :is "to" "carol@example.org" { discard; }
