require ["duplicate", "fileinto", "variables"];
if header :matches "subject" "*" { set "subj" "${1}"; }
if duplicate :handle "subj" :uniqueid "${subj}" :seconds 3600 :last { discard; }
if duplicate :header "X-Mailer" :seconds 999999999 { discard; }
if not duplicate :header "X-No-Such-Field" { fileinto "NoField"; }
