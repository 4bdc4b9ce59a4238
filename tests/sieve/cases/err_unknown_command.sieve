# expect: error
frobnicate;
