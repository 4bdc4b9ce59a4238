# expect: error
if (true, false) { keep; }
