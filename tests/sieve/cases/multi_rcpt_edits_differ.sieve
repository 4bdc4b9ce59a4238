# to: bob@example.org
# to: carol@example.org
# reference: no - several recipients
require ["envelope", "editheader"];
if envelope :is "to" "bob@example.org" { addheader "X-Bob" "1"; }
