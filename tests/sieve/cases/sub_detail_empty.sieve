# to: bob+@example.org
require ["envelope", "subaddress"];
if envelope :detail :is "to" "" { redirect "empty@example.net"; }
