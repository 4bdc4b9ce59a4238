# env: vnd.postern.client-country=DE
# env: vnd.postern.client-asn=64500
# env: vnd.postern.tls-version=TLSv1.3
# env: vnd.postern.authenticated=yes
# env: remote-ip=192.0.2.7
# reference: no - vendor items are Postern's
require ["environment", "fileinto"];
if environment :is "vnd.postern.client-country" "DE" { fileinto "de"; }
if environment :is "vnd.postern.client-asn" "64500" { fileinto "asn"; }
if environment :is "vnd.postern.tls-version" "TLSv1.3" { fileinto "tls"; }
if environment :is "vnd.postern.authenticated" "yes" { fileinto "auth"; }
if environment :is "remote-ip" "192.0.2.7" { fileinto "ip"; }
if environment :is "vnd.postern.auth-user" "" { fileinto "noone"; }
