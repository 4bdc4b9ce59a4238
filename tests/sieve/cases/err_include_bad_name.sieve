# expect: error
require "include";
include "../global/spam-rules";
