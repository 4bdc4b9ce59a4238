# expect: error
require "encoded-character";
if header :is "subject" "${unicode:110000}" { keep; }
