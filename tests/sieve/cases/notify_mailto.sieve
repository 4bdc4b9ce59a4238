# message: personal.eml
require "enotify";
notify :from "bob@example.org" :importance "1" :message "Mail from Alice" "mailto:boss@example.net?subject=hi";
