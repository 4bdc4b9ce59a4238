require "variables";
if header :matches "subject" "Quarterly*" { set "x" "${1}"; }
if header :matches "subject" "nomatch*" { set "y" "bad"; }
if string :is "${1}" " report for Q2" { redirect "keep1@example.net"; }
