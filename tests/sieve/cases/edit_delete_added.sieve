require "editheader";
addheader "X-Temp" "1";
deleteheader "x-temp";
if not exists "x-temp" { redirect "tmp@example.net"; }
