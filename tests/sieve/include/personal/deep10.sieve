require "include";
include "deep11";
