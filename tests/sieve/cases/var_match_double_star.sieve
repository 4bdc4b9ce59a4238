require ["variables"];
if header :matches "subject" "**" { set "a" "[${1}][${2}]"; }
if string :is "${a}" "[][Quarterly report for Q2]" { redirect "dbl@example.net"; }
