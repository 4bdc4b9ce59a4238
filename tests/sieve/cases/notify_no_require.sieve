# expect: error
notify "mailto:boss@example.net";
