# reference: no - RFC 6609 section 3.2: nesting beyond the limit (max_include_depth, 10) is a run-time error; Pigeonhole refuses it at compile time
require ["include", "fileinto"];
fileinto "dropped";
include "deep1";
