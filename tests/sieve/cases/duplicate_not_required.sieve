# expect: error
if duplicate { discard; }
