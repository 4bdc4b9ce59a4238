require "include";
include "deep4";
