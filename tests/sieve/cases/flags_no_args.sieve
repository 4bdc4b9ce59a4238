# expect: error
require "imap4flags";
setflag;
