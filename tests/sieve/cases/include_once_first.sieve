require ["include", "variables", "fileinto"];
global "n";
include :once "count";
include :once "count";
fileinto "n-${n}";
