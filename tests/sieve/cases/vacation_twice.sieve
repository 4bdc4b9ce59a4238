# message: personal.eml
require "vacation";
vacation :days 1 "first";
vacation :days 2 "second";
