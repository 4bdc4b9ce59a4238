require ["include", "variables", "fileinto"];
global "shared";
set "shared" "main";
set "mine" "outer";
include "locals";
fileinto "outer-${shared}-${mine}";
