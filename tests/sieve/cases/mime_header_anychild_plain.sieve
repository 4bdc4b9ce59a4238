# message: nested.eml
require ["mime", "fileinto"];
if header :mime :contains "X-Level" "mid" { fileinto "Top"; }
if header :mime :anychild :contains "X-Level" "mid" { fileinto "Child"; }
if header :mime :anychild :contains "Subject" "inner message" { fileinto "InnerSubject"; }
