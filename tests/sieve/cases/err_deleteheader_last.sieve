# reference: no - Pigeonhole reports this error but still runs the script
# expect: error
require "editheader";
deleteheader :last "x";
