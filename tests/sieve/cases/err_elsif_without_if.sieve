# expect: error
elsif true { keep; }
