# message: forwarded.eml
# to: team@example.org
require ["body", "fileinto"];
if body :content "message/rfc822" :contains "Inner invoice" { fileinto "C"; }
if body :content "message/rfc822" :contains "1200 EUR" { fileinto "D"; }
if body :content "text" :contains "1200 EUR" { fileinto "E"; }
if body :content "message" :contains "carol@example.net" { fileinto "F"; }
if body :content "message/rfc822" :contains "forwarded message" { fileinto "G"; }
