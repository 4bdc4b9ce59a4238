# expect: error
require "relational";
if header :value "xx" "subject" "a" { keep; }
