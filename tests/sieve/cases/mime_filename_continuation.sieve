# message: attach_tricky.eml
require ["mime", "fileinto"];
# filename*0="report."; filename*1="ex"; filename*2="e" (RFC 2231 continuations)
if header :mime :anychild :param "filename" :is "Content-Disposition" "report.exe" { fileinto "Joined"; }
# name="=?utf-8?q?invoice=2Eexe?=" (RFC 2047 inside a parameter, as mail readers show it)
if header :mime :anychild :param "name" :is "Content-Type" "invoice.exe" { fileinto "Decoded"; }
