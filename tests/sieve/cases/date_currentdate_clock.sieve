# reference: no - sieve-test cannot set its clock; postern-sort test --now sets sv_env.now
# now: 1735689599
require ["date", "variables", "fileinto"];
# 2024-12-31 23:59:59 UTC: already 2025 in +0100, a Tuesday
if currentdate :zone "+0000" "date" "2024-12-31" { fileinto "utc-2024"; }
if currentdate :zone "+0100" :matches "std11" "*" { set "std" "${0}"; }
if string "${std}" "Wed, 01 Jan 2025 00:59:59 +0100" { fileinto "std11-2025"; }
if currentdate :zone "+0000" "weekday" "2" { fileinto "tuesday"; }
if currentdate :zone "+0000" "julian" "60675" { fileinto "mjd"; }
