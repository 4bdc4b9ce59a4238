# expect: error
if frob "x" { keep; }
