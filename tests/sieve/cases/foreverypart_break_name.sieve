# message: nested.eml
require ["foreverypart", "mime", "fileinto", "variables"];
set "k" "";
foreverypart :name "all" {
  set "k" "${k}p";
  if header :mime :subtype "Content-Type" "octet-stream" { break :name "all"; }
}
fileinto "${k}";
