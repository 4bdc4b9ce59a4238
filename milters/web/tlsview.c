/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsview - PLACEHOLDER until h-webview's tlsview.c is merged (a merge
 * takes theirs): empty tables, so the daemon links.
 */
#include "milters/web/tlsview.h"
#include "milters/web/web.h"

int web_tls_partners(pn_buf *out, const char *policy_file, char **trail_files, size_t n,
		     const web_tls_opts *o, char **err)
{
	(void)policy_file;
	(void)trail_files;
	(void)n;
	(void)o;
	(void)err;
	pn_buf_puts(out, "<table id=\"partners\"></table>\n");
	return 0;
}

int web_tls_partner(pn_buf *out, const char *domain, const char *policy_file, char **trail_files,
		    size_t n, const web_tls_opts *o, char **err)
{
	(void)policy_file;
	(void)trail_files;
	(void)n;
	(void)o;
	(void)err;
	pn_buf_puts(out, "<div id=\"compliance\">");
	web_esc(out, domain);
	pn_buf_puts(out, "</div><table id=\"sessions\"></table>\n");
	return 0;
}
