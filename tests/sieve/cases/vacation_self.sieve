# message: personal.eml
# from: Bob@Example.ORG
require "vacation";
vacation :days 1 "Away (no reply to myself).";
