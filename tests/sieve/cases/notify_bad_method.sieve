# expect: error
require "enotify";
notify "xmpp:boss@example.net";
