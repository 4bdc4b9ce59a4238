if header :is "subject" "${hex:51}uarterly report for Q2" { discard; }
