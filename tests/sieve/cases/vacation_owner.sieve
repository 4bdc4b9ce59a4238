# message: personal.eml
# from: owner-discuss@lists.example.net
require "vacation";
vacation :days 1 "Away (no reply to a list owner).";
