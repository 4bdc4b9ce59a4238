# expect: error
require "vacation";
vacation :days 1;
