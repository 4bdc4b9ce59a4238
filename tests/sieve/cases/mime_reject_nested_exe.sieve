# message: nested.eml
require ["mime", "reject"];
# tool.exe sits two multiparts down, its name in RFC 2231 form (filename*=utf-8''tool%2Eexe)
if header :mime :anychild :param "filename" :matches "Content-Disposition" "*.exe" {
  reject "executables are not accepted";
}
