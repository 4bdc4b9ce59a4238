# message: nested.eml
# reference: no - RFC 5703 section 3: break :name ends the enclosing loop of that name; Pigeonhole 2.3.19 aborts every nested loop
require ["foreverypart", "mime", "fileinto", "variables"];
set "k" "";
foreverypart :name "outer" {
  set "k" "${k}o";
  foreverypart :name "inner" {
    set "k" "${k}i";
    if header :mime :type "Content-Type" "application" { break :name "outer"; }
  }
}
fileinto "${k}";
