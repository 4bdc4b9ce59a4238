require "include";
include "deep3";
