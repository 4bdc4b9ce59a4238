require ["include", "fileinto"];
include :global "spam-rules";
fileinto "not-spam";
