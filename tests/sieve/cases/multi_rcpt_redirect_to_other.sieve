# to: bob@example.org
# to: carol@example.org
# reference: no - several recipients
require "envelope";
if envelope :is "to" "bob@example.org" { redirect "carol@example.org"; }
