# message: nested.eml
require ["mime", "fileinto"];
# any part of the message, however deep, with an application type
if header :mime :anychild :type "Content-Type" "application" { fileinto "Attachments"; }
if header :mime :anychild :type "Content-Type" "image" { fileinto "Images"; }
