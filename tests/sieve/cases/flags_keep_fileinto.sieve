require ["imap4flags", "fileinto"];
setflag "\\seen Work  work";
addflag "\\SEEN \\Flagged";
keep;
keep :flags "x";
fileinto :flags ["b", "a b"] "F";
fileinto "G";
fileinto :flags "" "H";
