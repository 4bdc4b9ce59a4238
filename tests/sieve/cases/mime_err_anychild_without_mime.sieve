# expect: error
require "mime";
if header :anychild "Subject" "x" { keep; }
