require ["ihave"];
# fileinto was not required: ihave enables it inside the block
if ihave ["fileinto", "mime"] { fileinto "Yes"; }
