# message: personal.eml
require "vacation-seconds";
vacation :seconds 3600 :subject "Back soon" "Back in an hour.";
