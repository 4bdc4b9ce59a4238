# message: dated.eml
require ["index", "fileinto"];
if header :index 1 :last :contains "received" "from laptop" { fileinto "last"; }
if header :index 3 :last :contains "received" "from relay" { fileinto "first-from-end"; }
