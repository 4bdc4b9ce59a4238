# expect: error
keep
stop;
