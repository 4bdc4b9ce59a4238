# message: lists.eml
# to: bob+lists@example.org
require "vacation";
vacation :days 1 "Away (no reply to a list).";
