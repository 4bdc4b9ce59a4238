# to: bob@example.org
# to: carol@example.org
# reference: no - sieve-test runs one recipient; the flags header is the MTA's own
require ["imap4flags", "envelope"];
# every recipient ends with the same flags: one header, no address in it
if envelope :localpart "to" "bob" { setflag "Project"; } else { addflag "project"; }
