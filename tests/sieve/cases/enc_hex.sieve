require "encoded-character";
if header :is "subject" "${hex:51 75 61}rterly report for Q2" { redirect "hex@example.net"; }
