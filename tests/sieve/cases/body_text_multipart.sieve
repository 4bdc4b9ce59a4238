# message: multipart.eml
# to: team@example.org
require "body";
if body :text :contains "invoice number is 4711" { redirect "inv@example.net"; }
if body :text :contains "JVBERi0" { discard; }
