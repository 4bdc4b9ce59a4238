# expect: error
require "date";
if currentdate :originalzone "year" "2024" { discard; }
