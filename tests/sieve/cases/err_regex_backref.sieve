# reference: no - Pigeonhole allows back-references; Postern refuses them (exponential matching)
# expect: error
require "regex";
if header :regex "subject" "(a)\\1" { keep; }
