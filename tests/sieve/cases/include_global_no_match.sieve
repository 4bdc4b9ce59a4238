# message: dated.eml
require ["include", "fileinto"];
include :global "spam-rules";
fileinto "no-match-goes-on";
