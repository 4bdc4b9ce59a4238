require "include";
include "deep5";
