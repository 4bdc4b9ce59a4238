require "variables";
set "h" "x-priority";
if header :is "${h}" "3" { redirect "hn@example.net"; }
