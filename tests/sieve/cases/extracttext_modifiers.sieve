# message: nested.eml
require ["foreverypart", "mime", "extracttext", "variables", "fileinto"];
foreverypart {
  if header :mime :contenttype "Content-Type" "text/plain" {
    extracttext :upper :first 9 "t";
    fileinto "${t}";
  }
}
