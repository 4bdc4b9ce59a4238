# expect: error
require "x-postern-no-such-extension";
