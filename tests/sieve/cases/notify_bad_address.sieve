# expect: error
require "enotify";
notify "mailto:not-an-address";
