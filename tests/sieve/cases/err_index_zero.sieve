# expect: error
require "index";
if header :index 0 "subject" "x" { discard; }
