# expect: error
include "lib-a";
