# message: personal.eml
require ["vacation", "variables"];
if header :matches "subject" "*" { set "s" "${1}"; }
vacation :days 2 :subject "Re: ${s}" :handle "lunch" "About \"${s}\": I am away.";
