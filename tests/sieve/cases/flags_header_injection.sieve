require ["imap4flags", "variables"];
# a flag taken from the message cannot carry a line break or a space
if header :matches "subject" "*" { set "s" "${1}"; }
setflag "${s}";
addflag "x
X-Injected: yes";
