# message: personal.eml
# to: carol@example.org
require "vacation";
vacation :days 1 "Away (carol is not in To or Cc).";
