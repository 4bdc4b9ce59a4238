# message: dated.eml
require ["index", "fileinto"];
if header :index 2 :contains "received" "relay.example.net (Postfix)" { fileinto "second"; }
if header :index 1 :contains "received" "relay.example.net (Postfix)" { fileinto "wrong"; }
if header :index 4 :contains "received" "" { fileinto "no-fourth"; }
