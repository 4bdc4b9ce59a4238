require "imap4flags";
# the internal variable goes with the implicit keep
setflag "\\Seen";
addflag ["\\flagged", "Work  work"];
removeflag "\\Seen";
