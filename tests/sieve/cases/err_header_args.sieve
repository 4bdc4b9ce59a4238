# expect: error
if header :is "subject" { keep; }
