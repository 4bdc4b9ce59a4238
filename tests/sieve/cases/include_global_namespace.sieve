# reference: no - RFC 6609 section 3.5: the "global." variable namespace; Pigeonhole 0.5 does not offer it
require ["include", "variables", "fileinto"];
set "global.n" "m";
include :global "global-count";
fileinto "n-${global.n}";
