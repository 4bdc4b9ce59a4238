# expect: error
if allof true { keep; }
