# expect: error
require "vacation";
vacation :seconds 60 "Away.";
