require ["include", "fileinto"];
include :optional :global "no-such-global";
fileinto "went-on";
