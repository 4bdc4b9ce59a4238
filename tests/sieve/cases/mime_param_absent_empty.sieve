# message: nested.eml
require ["mime", "fileinto", "relational", "comparator-i;ascii-numeric"];
# a Content-Type without the parameter gives one empty string, as Pigeonhole does
if header :mime :param "name" :is "Content-Type" "" { fileinto "NoName"; }
if header :mime :param "name" :count "eq" :comparator "i;ascii-numeric" "Content-Type" "1" { fileinto "One"; }
if header :mime :param "boundary" :is "Content-Type" "outer" { fileinto "Boundary"; }
