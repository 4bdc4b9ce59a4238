require "editheader";
addheader :last "X-Trace" "one";
addheader "X-Trace" "zero";
