if exists "subject" {
  if exists "x-spam-score" {
    if header :is "x-priority" "3" { redirect "nested@example.net"; stop; }
  }
}
discard;
