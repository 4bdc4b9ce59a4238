# message: multipart.eml
# to: team@example.org
require "body";
if body :content "text" :contains "invoice" { redirect "text@example.net"; }
