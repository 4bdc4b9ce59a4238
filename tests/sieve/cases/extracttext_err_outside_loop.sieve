# expect: error
require ["foreverypart", "extracttext", "variables"];
extracttext "x";
