# expect: error
require ["foreverypart", "extracttext"];
foreverypart { extracttext "x"; }
