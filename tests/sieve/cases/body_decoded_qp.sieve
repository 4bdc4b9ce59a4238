# message: multipart.eml
# to: team@example.org
require "body";
if body :contains "Grüße aus München" { redirect "qp@example.net"; }
