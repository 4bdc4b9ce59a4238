require ["include", "variables", "fileinto"];
global "shared";
# "mine" was set by the includer but is not global: empty here
fileinto "inner-${shared}-${mine}";
set "shared" "changed";
set "mine" "inner";
