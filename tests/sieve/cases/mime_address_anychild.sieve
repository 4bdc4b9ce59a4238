# message: nested.eml
require ["mime", "fileinto"];
# Carol wrote the message forwarded inside; only :anychild sees her From
if address :mime :domain "From" "example.net" { fileinto "TopFromNet"; }
if address :mime :anychild :domain "From" "example.net" { fileinto "ForwardedFromNet"; }
