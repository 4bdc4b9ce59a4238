# reference: no - RFC 6609 section 3.2: a missing script is found when the include runs (a recipient's scripts are known then); Pigeonhole refuses it at compile time
require ["include", "fileinto"];
fileinto "dropped";
include "no-such-script";
