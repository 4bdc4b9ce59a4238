require "variables";
set "Name" "v";
if string :is "${NAME}" "v" { redirect "ci@example.net"; }
