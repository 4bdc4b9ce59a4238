# message: personal.eml
require ["enotify", "fileinto"];
if valid_notify_method "mailto:a@example.net" { fileinto "valid"; }
if valid_notify_method ["mailto:a@example.net", "xmpp:a@example.net"] { fileinto "invalid"; }
if notify_method_capability "mailto:a@example.net" "online" "maybe" { fileinto "maybe"; }
if notify_method_capability "mailto:a@example.net" "online" "yes" { fileinto "yes"; }
