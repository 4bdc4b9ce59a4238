# message: multipart.eml
# to: team@example.org
require "encoded-character";
if header :is "subject" "Gr${unicode:fc}${unicode: DF}e aus M${unicode:00FC}nchen" { redirect "uni@example.net"; }
