# expect: error
require "reject";
reject text:
no end
