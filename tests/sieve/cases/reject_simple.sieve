require "reject";
if header :contains "subject" "report" { reject "We do not accept reports."; }
