# expect: error
error "x";
