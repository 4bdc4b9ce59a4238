require ["imap4flags", "variables", "fileinto"];
if header :matches "subject" "Quarterly *" { set "kw" "${1}"; }
setflag "f" "report ${kw}";
addflag "f" "extra";
removeflag "f" "REPORT";
fileinto :flags "${f}" "Reports";
# addflag leaves the variable as it was and appends what is new;
# removeflag rewrites it with one space; setflag keeps the spelling
set "raw" "a a b";
addflag "raw" "c a";
if string :is "${raw}" "a a b c" { fileinto "Appended"; }
set "r3" "a b a";
removeflag "r3" "b";
if string :is "${r3}" "a a" { fileinto "Removed"; }
setflag "w" ["\\SEEN", "bad(x", "k k"];
if string :is "${w}" "\\SEEN k" { fileinto "Spelled"; }
