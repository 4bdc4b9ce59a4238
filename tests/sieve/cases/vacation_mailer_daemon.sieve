# message: personal.eml
# from: MAILER-DAEMON@example.com
require "vacation";
vacation :days 1 "Away (no reply to a program).";
