# message: personal.eml
require ["enotify", "variables"];
if header :matches "from" "*<*>" { set "who" "${2}"; }
notify :message "mail from ${who}" "mailto:boss@example.net";
