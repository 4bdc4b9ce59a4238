# from: Alice@Example.COM
# to: bob@Example.ORG
require ["envelope", "fileinto", "variables"];
if envelope :domain :is :comparator "i;octet" "to" "example.org" { fileinto "Octet"; }
if envelope :domain :is "to" "example.org" { fileinto "Casemap"; }
if envelope :domain :matches "to" "*.*" { fileinto "${1}"; }
if envelope :all :matches "from" "*@*.*" { fileinto "${1}-${2}"; }
