# message: nested.eml
require ["foreverypart", "mime", "fileinto", "variables"];
# every part in document order, the message itself first, multiparts included
set "n" "";
foreverypart {
  if header :mime :subtype :matches "Content-Type" "*" { set "n" "${n}.${1}"; }
}
fileinto "${n}";
