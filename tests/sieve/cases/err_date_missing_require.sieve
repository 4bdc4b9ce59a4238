# expect: error
if currentdate "year" "2024" { discard; }
