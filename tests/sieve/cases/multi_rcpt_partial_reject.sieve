# to: bob@example.org
# to: carol@example.org
# reference: no - several recipients
require ["reject", "envelope"];
if envelope :is "to" "bob@example.org" { reject "Not for Bob."; }
