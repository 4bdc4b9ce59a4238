# reference: no - RFC 6609 section 3.2: an include loop is a run-time error; Pigeonhole refuses it at compile time
require ["include", "fileinto"];
fileinto "dropped";
include "loop-a";
