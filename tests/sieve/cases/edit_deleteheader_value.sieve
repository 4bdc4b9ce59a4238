require "editheader";
deleteheader :contains "received" "client";
deleteheader :matches "x-mailer" "Example*";
deleteheader :is "x-priority" "1";
