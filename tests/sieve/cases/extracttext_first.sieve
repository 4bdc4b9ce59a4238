# message: nested.eml
require ["foreverypart", "mime", "extracttext", "variables", "fileinto"];
foreverypart {
  if header :mime :contenttype "Content-Type" "text/plain" {
    extracttext :first 5 "start";
    fileinto "${start}";
  }
}
