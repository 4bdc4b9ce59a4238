# message: personal.eml
require "enotify";
notify "mailto:d@example.net";
notify :importance "3" :message "again" "mailto:d@example.net";
