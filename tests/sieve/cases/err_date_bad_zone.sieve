# reference: no - RFC 5260 section 4.1: the zone MUST be "+hhmm" or "-hhmm"; Pigeonhole only warns and runs
# expect: error
require "date";
if date :zone "CET" "date" "hour" "12" { discard; }
