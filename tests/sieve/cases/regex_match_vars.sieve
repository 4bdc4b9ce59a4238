require ["regex", "variables"];
if header :regex "subject" "^([A-Z][a-z]+) (report)" { set "x" "${2}-${1}-${0}"; }
if string :is "${x}" "report-Quarterly-Quarterly report" { redirect "rx@example.net"; }
