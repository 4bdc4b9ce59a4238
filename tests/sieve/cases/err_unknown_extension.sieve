# expect: error
require "vacation-seconds";
