# reference: no - RFC 5260 section 4 lists the date parts and no value can match another: postern refuses an unknown one, Pigeonhole only warns
# expect: error
require "date";
if date "date" "fortnight" "1" { discard; }
