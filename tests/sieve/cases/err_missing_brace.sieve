# expect: error
if true { keep;
