require ["imap4flags"];
# an unknown system flag and keywords IMAP does not allow are dropped
setflag ["\\Recent", "\\Bogus", "ok", "bad(paren", "bad*star", "café"];
keep;
