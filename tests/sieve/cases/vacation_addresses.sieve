# message: personal.eml
# to: robert@example.org
require "vacation";
vacation :days 1 :addresses ["Bob <bob@example.org>"] "Away (bob is one of my addresses).";
