# reference: no - glibc regcomp would allocate gigabytes; Postern refuses such patterns
# expect: error
require "regex";
if header :regex "subject" "^Q++++++++++++++++++++++++++++++" { keep; }
