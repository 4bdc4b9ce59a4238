# expect: error
require "regex";
if header :regex "subject" "(unclosed" { keep; }
