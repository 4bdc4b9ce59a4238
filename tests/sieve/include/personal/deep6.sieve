require "include";
include "deep7";
