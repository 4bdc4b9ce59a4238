# expect: error
if header :comparator "i;unicode-casemap" "subject" "x" { keep; }
