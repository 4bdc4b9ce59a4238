# message: multipart.eml
# to: team@example.org
require "body";
if body :raw :contains "JVBERi0xLjQ" { redirect "raw@example.net"; }
