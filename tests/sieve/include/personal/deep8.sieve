require "include";
include "deep9";
