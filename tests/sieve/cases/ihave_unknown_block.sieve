require ["ihave", "fileinto"];
# the block names a command nobody has: it must still compile, and never run
if ihave "x-no-such-extension" { frobnicate :loudly "x"; } else { fileinto "Fallback"; }
