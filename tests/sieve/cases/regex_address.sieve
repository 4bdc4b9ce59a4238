require "regex";
if address :regex :domain "cc" "^sub\\.example\\.(net|org)$" { redirect "sub@example.net"; }
