# expect: error
keep :flags "\\Seen";
