require ["variables"];
if address :matches "from" "*@*.*" { set "a" "${1}|${2}|${3}"; }
if string :is "${a}" "alice|example|com" { redirect "short@example.net"; }
