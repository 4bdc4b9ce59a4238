# message: latin1.eml
require "body";
if body :contains "café crème" { redirect "latin@example.net"; }
