# expect: error
if header :frob "subject" "x" { keep; }
