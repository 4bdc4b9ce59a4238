# message: multipart.eml
# to: team@example.org
require "body";
if body :content "text/html" :contains "<b>invoice</b>" { redirect "html@example.net"; }
if body :content "text/plain" :contains "<b>invoice</b>" { discard; }
