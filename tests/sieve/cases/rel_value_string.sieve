require "relational";
if header :value "lt" "x-mailer" "F" { redirect "lt@example.net"; }
if header :value "ge" "x-mailer" "z" { discard; }
