require ["ihave", "fileinto"];
fileinto "Dropped";
# error ends the script; its actions go and the implicit keep applies
error "this script refuses to run";
