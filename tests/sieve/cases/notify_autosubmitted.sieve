# message: autoreply.eml
require "enotify";
notify :message "you got an auto-reply" "mailto:boss@example.net";
