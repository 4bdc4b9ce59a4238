# message: personal.eml
require "vacation";
vacation :days 1000 "A long time away.";
