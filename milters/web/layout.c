/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * layout - the page frame (head, navigation, logout form) and the HTML
 * helpers every page uses: URL arguments, the CSRF field, HTML answers
 * (see web.h; escaping is esc.c's)
 */
#include "milters/web/web.h"
#include "milters/web/users.h"

#include <string.h>

void web_url_arg(pn_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		    || c == '-' || c == '.' || c == '_' || c == '~') {
			pn_buf_putc(b, c);
		} else {
			pn_buf_putc(b, '%');
			pn_buf_putc(b, hex[c >> 4]);
			pn_buf_putc(b, hex[c & 15]);
		}
	}
}

void web_csrf_field(pn_buf *b, const web_req *r)
{
	pn_buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_esc(b, r->csrf ? r->csrf : "");
	pn_buf_puts(b, "\">");
}

void web_page_begin(pn_buf *b, const web_req *r, const char *title)
{
	pn_buf_init(b, 0);
	pn_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		    "<title>");
	web_esc(b, title);
	pn_buf_puts(b, " - Postern</title><link rel=\"stylesheet\" href=\"/static/app.css\">"
		    "<script src=\"/static/app.js\" defer></script></head>\n<body><header>"
		    "<span class=\"brand\">Postern</span>");
	if (r && r->user) {
		pn_buf_puts(b, "<nav><a href=\"/search\">Search</a><a href=\"/tls\">TLS</a>"
			    "<span class=\"who\" id=\"who\">");
		web_esc(b, r->user->name);
		pn_buf_printf(b, " (%s)</span><form method=\"post\" action=\"/logout\" "
			      "class=\"logout\" id=\"logout-form\">", web_role_name(r->user->role));
		web_csrf_field(b, r);
		pn_buf_puts(b, "<button type=\"submit\">Log out</button></form></nav>");
	}
	pn_buf_puts(b, "</header>\n<main><h1>");
	web_esc(b, title);
	pn_buf_puts(b, "</h1>\n");
}

void web_page_end(pn_buf *b)
{
	pn_buf_puts(b, "</main></body></html>\n");
}

pn_http_response *web_html_status(pn_buf *b, int status)
{
	pn_http_response *resp = pn_http_response_new(status, "text/html; charset=utf-8");

	pn_buf_append(pn_http_body(resp), pn_buf_str(b), pn_buf_len(b));
	pn_buf_free(b);
	return resp;
}

pn_http_response *web_html(pn_buf *b)
{
	return web_html_status(b, 200);
}

pn_http_response *web_error(const web_req *r, int status, const char *text)
{
	pn_buf b;

	web_page_begin(&b, r, status == 403 ? "Forbidden" : status == 404 ? "Not found"
		       : status == 429 ? "Too many attempts" : "Error");
	pn_buf_puts(&b, "<p class=\"error\" id=\"error\">");
	web_esc(&b, text);
	pn_buf_puts(&b, "</p>\n");
	web_page_end(&b);
	return web_html_status(&b, status);
}
