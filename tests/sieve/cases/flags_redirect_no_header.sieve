# reference: no - the flags header is the MTA's own
require ["imap4flags", "copy"];
# the redirect target's mailbox must not get this recipient's flags
setflag "\\Seen";
redirect :copy "archive@example.net";
