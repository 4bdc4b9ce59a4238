require "comparator-i;ascii-numeric";
if header :is :comparator "i;ascii-numeric" "subject" "x" { redirect "inf@example.net"; }
