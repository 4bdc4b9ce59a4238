if anyof (false, header :is "x-priority" "3") { redirect "anyof@example.net"; }
if anyof (false, false) { discard; }
