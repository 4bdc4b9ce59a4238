# message: multipart.eml
# to: team@example.org
require "fileinto";
if header :is "subject" "Grüße aus München" { fileinto "German"; }
if header :contains "from" "Jürgen" { redirect "j@example.net"; }
