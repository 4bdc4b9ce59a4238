# reference: no - Pigeonhole deduplicates the second reject
require "reject";
reject "one";
reject "two";
