# expect: error
header :is "subject" "x";
