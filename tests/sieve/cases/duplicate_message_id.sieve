require ["duplicate", "fileinto"];
# the test tool has no response store: never a duplicate
if duplicate { discard; } else { fileinto "First"; }
