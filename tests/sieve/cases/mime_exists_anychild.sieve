# message: nested.eml
# (with :anychild each name may be in a different part, as Pigeonhole reads it)
require ["mime", "fileinto"];
if exists :mime "Content-Disposition" { fileinto "TopHasIt"; }
if exists :mime :anychild "Content-Disposition" { fileinto "SomePartHasIt"; }
if exists :mime :anychild ["Content-Disposition", "X-Level"] { fileinto "BothSomewhere"; }
