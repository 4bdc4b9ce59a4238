require "variables";
set :upper "a" "hello";
set :lowerfirst "b" "WORLD";
set :length "c" "abcdef";
set :upperfirst :lower "d" "mIXED";
set :quotewildcard "e" "a*b?c";
if string :is "${a}-${b}-${c}-${d}" "HELLO-wORLD-6-Mixed" { redirect "mods@example.net"; }
if string :is "${e}" "a\\*b\\?c" { redirect "quote@example.net"; }
