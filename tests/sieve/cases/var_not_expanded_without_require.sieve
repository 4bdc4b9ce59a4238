if header :is "subject" "${1}" { discard; }
redirect "lit@example.net";
