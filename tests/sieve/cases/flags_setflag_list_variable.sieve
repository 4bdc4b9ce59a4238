# expect: error
require ["imap4flags", "variables"];
setflag ["a", "b"] "x";
