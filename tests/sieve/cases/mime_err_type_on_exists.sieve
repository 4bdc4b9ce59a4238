# expect: error
require "mime";
if exists :mime :type "Content-Type" { keep; }
