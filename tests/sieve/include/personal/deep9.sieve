require "include";
include "deep10";
