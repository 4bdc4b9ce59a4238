# message: attach_repeated.eml
require ["mime", "fileinto"];
# FileName="notes.txt"; filename="setup.exe": a reader may show either, the rule sees both
if header :mime :anychild :param "filename" :matches "Content-Disposition" "*.exe" { fileinto "DispositionExe"; }
# NAME="readme.txt"; name="TOOL.EXE": letter case of names and values does not hide it
if header :mime :anychild :param "name" :matches "Content-Type" "*.exe" { fileinto "TypeExe"; }
