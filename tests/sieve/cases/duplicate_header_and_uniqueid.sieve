# expect: error
require "duplicate";
if duplicate :header "Message-ID" :uniqueid "x" { discard; }
