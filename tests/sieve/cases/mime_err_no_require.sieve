# expect: error
if header :mime "Content-Type" "text/plain" { keep; }
