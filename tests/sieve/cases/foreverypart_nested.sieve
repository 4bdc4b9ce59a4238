# message: nested.eml
# reference: no - RFC 5703 section 3: a nested foreverypart iterates over the parts inside the outer loop's current part; Pigeonhole 2.3.19 aborts every nested loop ("program crossed loop boundary")
require ["foreverypart", "mime", "fileinto", "variables"];
set "n" "";
foreverypart {
  if header :mime :subtype :matches "Content-Type" "*" { set "n" "${n}[${1}:"; }
  foreverypart {
    if header :mime :subtype :matches "Content-Type" "*" { set "n" "${n}${1},"; }
  }
  set "n" "${n}]";
}
fileinto "${n}";
