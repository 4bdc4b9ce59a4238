# expect: error
require "duplicate";
if duplicate :seconds "10" { discard; }
