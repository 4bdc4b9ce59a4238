# expect: error
keep { stop; }
