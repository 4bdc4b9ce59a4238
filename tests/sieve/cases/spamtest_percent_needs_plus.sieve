# expect: error
require "spamtest";
if spamtest :percent "50" { discard; }
