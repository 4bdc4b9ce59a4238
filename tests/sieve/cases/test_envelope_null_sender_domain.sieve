# from: <>
# reference: no - sieve-test cannot take a null sender
require "envelope";
if envelope :domain :is "from" "" { discard; }
