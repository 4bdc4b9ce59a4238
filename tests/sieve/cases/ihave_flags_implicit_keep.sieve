require ["ihave"];
# imap4flags enabled by ihave only: its flags still reach the implicit keep
if ihave "imap4flags" { addflag "\\Seen"; }
