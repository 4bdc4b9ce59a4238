if header :contains "subject" "weekly" {
  redirect "weekly@example.net";
} elsif header :contains "subject" "quarterly" {
  redirect "quarterly@example.net";
} else {
  discard;
}
