# reference: no - Pigeonhole reports its own name and location
require "environment";
if environment :is "location" "MTA" { redirect "mta@example.net"; }
if environment :is "name" "Postern" { redirect "name@example.net"; }
if environment :is "phase" "during" { redirect "phase@example.net"; }
