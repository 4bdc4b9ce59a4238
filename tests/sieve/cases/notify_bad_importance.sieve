# expect: error
require "enotify";
notify :importance "4" "mailto:boss@example.net";
