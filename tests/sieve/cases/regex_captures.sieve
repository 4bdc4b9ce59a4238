require ["regex", "variables", "fileinto"];
if header :regex "list-id" "<([a-z]+)\\.([a-z.]+)>" { fileinto "list-${1}"; }
