# expect: error
if size 100 { keep; }
