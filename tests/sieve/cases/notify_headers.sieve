# message: personal.eml
require "enotify";
notify "mailto:a@example.net?cc=c@example.net&subject=Hello%20there&body=x&from=evil@example.com";
