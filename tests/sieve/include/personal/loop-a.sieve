require ["include", "fileinto"];
fileinto "in-loop-a";
include "loop-b";
