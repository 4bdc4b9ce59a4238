# message: lists.eml
if address :is ["sender", "reply-to"] "discuss@lists.example.net" { redirect "rt@example.net"; }
