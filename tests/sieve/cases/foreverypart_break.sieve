# message: nested.eml
require ["foreverypart", "mime", "fileinto", "variables"];
set "seen" "";
foreverypart {
  if header :mime :type "Content-Type" "application" {
    if header :mime :param "filename" :matches "Content-Disposition" "*" { fileinto "first-${1}"; }
    break;
  }
  set "seen" "${seen}x";
}
fileinto "before-${seen}";
