require "include";
include "deep12";
