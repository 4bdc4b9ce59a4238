# expect: error
require ["virustest", "spamtestplus"];
if virustest :percent "50" { discard; }
