# expect: error
# reference: no - Postern enables an extension named by ihave only inside the block that test guards (RFC 5463 section 4); Pigeonhole 2.3.19 accepts it in the rest of the script too
require "ihave";
# ihave enables fileinto only inside its own block
if ihave "fileinto" { keep; }
fileinto "Nope";
