# message: attach_trailing_dot.eml
require ["mime", "regex", "fileinto"];
# filename="setup.exe. ": some readers drop trailing dots and spaces; :matches "*.exe" misses it
if header :mime :anychild :param "filename" :matches "Content-Disposition" "*.exe" { fileinto "Matches"; }
if header :mime :anychild :param "filename" :regex "Content-Disposition" "\\.exe[. ]*$" { fileinto "Regex"; }
