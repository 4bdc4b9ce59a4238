# expect: error
if header :index 1 "subject" "x" { discard; }
