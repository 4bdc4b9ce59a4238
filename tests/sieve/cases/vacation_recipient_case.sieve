# message: personal.eml
# to: BOB@EXAMPLE.ORG
require "vacation";
vacation :days 1 "Away (To names bob in another letter case: a reply).";
