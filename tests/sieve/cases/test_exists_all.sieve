if exists ["From", "To", "Date"] { redirect "yes@example.net"; }
if exists ["From", "X-Missing"] { discard; }
