# expect: error
keep; @
