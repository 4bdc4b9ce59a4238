require "encoded-character";
if header :is "subject" "${hex:zz}" { discard; }
redirect "lit@example.net";
