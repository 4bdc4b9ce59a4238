require "editheader";
deleteheader "x-priority";
if not exists "x-priority" { redirect "gone@example.net"; }
