# message: multipart.eml
# to: team@example.org
require ["body", "fileinto"];
if body :content "application/pdf" :contains "%PDF" { fileinto "A"; }
if body :content "application" :contains "secret pdf" { fileinto "B"; }
if body :content "image" :contains "secret pdf" { fileinto "NotImage"; }
if body :content "text" :contains "secret pdf" { fileinto "NotText"; }
