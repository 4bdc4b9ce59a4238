# expect: error
redirect "not an address";
