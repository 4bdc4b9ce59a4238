require "relational";
if header :value "gt" "subject" "quarterly" { redirect "gt@example.net"; }
if header :value "lt" :comparator "i;octet" "subject" "a" { redirect "lt@example.net"; }
