# reference: no - RFC 6609 section 3.2: the included script is compiled when the include runs; Pigeonhole refuses the includer at compile time
require ["include", "fileinto"];
fileinto "dropped";
include "broken";
