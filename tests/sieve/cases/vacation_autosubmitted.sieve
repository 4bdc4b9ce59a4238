# message: autoreply.eml
require "vacation";
vacation :days 1 "Away (no reply to an auto-reply).";
