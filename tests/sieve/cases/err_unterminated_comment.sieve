# expect: error
keep; /* never closed
