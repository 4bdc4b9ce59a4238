# expect: error
if keep { stop; }
