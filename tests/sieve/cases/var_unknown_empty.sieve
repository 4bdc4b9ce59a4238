require "variables";
if string :is "x${nothing}y" "xy" { redirect "unk@example.net"; }
