# from: <>
# reference: no - sieve-test cannot take a null sender
require "envelope";
if envelope :is "from" "" { redirect "bounce@example.net"; }
