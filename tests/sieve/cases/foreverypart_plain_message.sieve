require ["foreverypart", "mime", "fileinto", "variables"];
# a message without MIME is one part: the loop runs once, on the message
set "k" "";
foreverypart { set "k" "${k}p"; if exists :mime "Content-Type" { set "k" "${k}ct"; } }
fileinto "${k}";
