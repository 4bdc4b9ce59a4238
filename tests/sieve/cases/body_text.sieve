require "body";
if body :contains "Revenue is up" { redirect "body@example.net"; }
