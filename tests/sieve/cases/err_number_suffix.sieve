# expect: error
if size :over 10X { keep; }
