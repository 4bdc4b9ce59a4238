# message: nested.eml
require ["mime", "fileinto"];
# :type reads Content-Type and Content-Disposition; any other field is the empty string
if header :mime :type "Subject" "" { fileinto "Empty"; }
if header :mime :type "Subject" "nested" { fileinto "NotSubject"; }
