# hash comment
/* bracket
   comment */ if header :is "subject" text: # comment after text:
Quarterly report for Q2
.
{ redirect "text@example.net"; }
