# reference: no - RFC 6609 section 3.2: :optional makes a missing script no error; sieve-test 0.5.19 crashes (SIGSEGV) on two :optional includes of one missing name
require ["include", "fileinto"];
include :optional "no-such-script";
include :optional :global "no-such-script";
fileinto "went-on";
