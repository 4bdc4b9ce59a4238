# expect: error
require "include";
include :personal :global "lib-a";
