# message: personal.eml
require "vacation";
vacation "I am away.";
