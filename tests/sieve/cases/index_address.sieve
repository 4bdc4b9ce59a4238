# message: dated.eml
require ["index", "fileinto"];
# :index picks the field; every address of that field counts
if address :index 2 :domain "to" "sub.example.net" { fileinto "second-to"; }
if address :index 1 :domain "to" "sub.example.net" { fileinto "wrong"; }
if address :index 1 :last :localpart "to" "carol" { fileinto "last-to"; }
