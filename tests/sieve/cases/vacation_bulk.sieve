# message: bulk.eml
require "vacation";
vacation :days 1 "Away (no reply to Precedence: bulk).";
