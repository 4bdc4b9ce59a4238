# expect: error
require "vacation";
vacation :from "not an address" "Away.";
