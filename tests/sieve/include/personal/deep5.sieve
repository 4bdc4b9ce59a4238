require "include";
include "deep6";
