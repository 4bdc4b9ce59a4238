# reference: no - Pigeonhole needs ereject enabled explicitly
require "ereject";
ereject "Refused at the door.";
