# to: bob@example.org
# to: carol@example.org
# reference: no - sieve-test runs one recipient; the flags header is the MTA's own
require ["imap4flags", "envelope"];
# bob's flags must not reach carol's mailbox: no header at all
if envelope :localpart "to" "bob" { setflag "\\Flagged"; }
