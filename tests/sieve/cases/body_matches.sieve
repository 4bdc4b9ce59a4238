require "body";
if body :matches "*Friday*" { redirect "fri@example.net"; }
