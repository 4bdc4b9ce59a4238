require "variables";
set "a" "Quarterly";
set "b" "${a} report";
if header :matches "subject" "${b}*" { redirect "later@example.net"; }
