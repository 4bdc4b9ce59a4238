# message: flags_forged.eml
# a sender's X-Postern-Flags is deleted whatever the script does
require "imap4flags";
if header :contains "X-Postern-Flags" "Deleted" { addflag "Forged"; }
