require ["include", "variables", "fileinto"];
global "n";
include "count";
include "count";
include :once "count";
fileinto "n-${n}";
