# reference: no - Pigeonhole's error text
require "variables";
set "a" "not an address";
redirect "${a}";
