# reference: no - multi-line reject reason formatting differs
require "reject";
reject text:
..leading dot kept
.
;
