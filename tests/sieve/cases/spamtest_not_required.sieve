# expect: error
if spamtest "5" { discard; }
