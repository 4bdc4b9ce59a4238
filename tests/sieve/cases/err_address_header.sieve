# expect: error
if address "subject" "x" { keep; }
