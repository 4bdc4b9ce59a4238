require ["envelope", "subaddress"];
if envelope :detail :matches "to" "*" { discard; }
