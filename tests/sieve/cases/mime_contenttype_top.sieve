# message: nested.eml
require ["mime", "fileinto"];
# outside foreverypart :mime reads the message itself
if header :mime :contenttype "Content-Type" "multipart/mixed" { fileinto "Multi"; }
if header :mime :subtype "Content-Type" "mixed" { fileinto "Mixed"; }
if header :mime :contenttype "Content-Type" "text/plain" { fileinto "NotTop"; }
