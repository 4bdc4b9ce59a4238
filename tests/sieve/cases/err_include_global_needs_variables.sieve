# expect: error
require "include";
global "x";
