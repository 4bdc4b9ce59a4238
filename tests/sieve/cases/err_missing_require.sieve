# expect: error
fileinto "x";
