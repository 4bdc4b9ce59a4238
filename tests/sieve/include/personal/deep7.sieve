require "include";
include "deep8";
