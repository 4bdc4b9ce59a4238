require ["include", "fileinto"];
include "lib-a";
fileinto "main";
