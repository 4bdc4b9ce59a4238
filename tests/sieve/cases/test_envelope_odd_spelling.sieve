# reference: no - sieve-test takes no comment, route or trailing dot in -f/-r (Postfix strips them before the milter decides)
# from: <@relay.example:Alice@Example.COM.>
# to: <"bob"(at work)@Example.ORG.>
require ["envelope", "fileinto", "variables"];
if envelope :all :is :comparator "i;octet" "to" "bob@Example.ORG" { fileinto "Canonical"; }
if envelope :domain :is :comparator "i;octet" "from" "Example.COM" { fileinto "Route"; }
if envelope :localpart :is "to" "bob" { fileinto "Unquoted"; }
