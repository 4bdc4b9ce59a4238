require ["duplicate", "fileinto"];
# an invalid field name is no error (Pigeonhole warns): it names no field
if duplicate :header "Bad Name:" { discard; } else { fileinto "Fresh"; }
