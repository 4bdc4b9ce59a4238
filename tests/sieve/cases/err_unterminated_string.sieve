# expect: error
if header :is "subject" "abc { keep; }
