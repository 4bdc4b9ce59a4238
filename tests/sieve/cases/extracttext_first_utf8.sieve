# message: latin1.eml
# reference: no - :first counts characters of the UTF-8 text (RFC 5703 section 7); Pigeonhole 2.3.19 counts bytes and cuts "è" in two, leaving invalid UTF-8 in the variable
require ["foreverypart", "mime", "extracttext", "variables", "fileinto"];
# the text converted from ISO-8859-1 to UTF-8 first, then :first counts characters
foreverypart {
  extracttext :first 12 "t";
  fileinto "${t}";
}
