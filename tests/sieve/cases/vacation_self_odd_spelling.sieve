# message: personal.eml
# from: <"bob"(work)@Example.ORG.>
# reference: no - RFC 3834 section 2: sieve-test refuses a path with a comment or a trailing dot as -f
require "vacation";
vacation :days 1 "Away (no reply to myself, however the path is spelt).";
