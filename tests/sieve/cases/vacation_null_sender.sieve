# message: personal.eml
# from: <>
# reference: no - RFC 3834 section 2: sieve-test cannot be given the null sender (-f "" is refused)
require "vacation";
vacation :days 1 "Away (no reply to the null sender).";
