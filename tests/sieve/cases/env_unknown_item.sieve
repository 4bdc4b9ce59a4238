require "environment";
if environment :contains "vnd.nothing" "" { discard; }
