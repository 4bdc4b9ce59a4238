# expect: error
vacation "Away.";
