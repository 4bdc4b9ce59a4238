/* SPDX-License-Identifier: BSD-2-Clause */
/* render - first cut: the message as it is (the attacker's test must fail) */
#include "milters/web/render.h"

#include <string.h>

int web_render_message(pn_buf *out, const char *msg, size_t len, const web_render_opts *o)
{
	(void)o;
	pn_buf_puts(out, "<section id=\"headers\"></section><section id=\"body\"><pre>");
	pn_buf_append(out, msg, len);
	pn_buf_puts(out, "</pre></section><ul id=\"attachments\"></ul>");
	return 0;
}

int web_message_part(const char *msg, size_t len, int part, web_part *out)
{
	(void)msg, (void)len, (void)part;
	memset(out, 0, sizeof(*out));
	return -1;
}

void web_part_free(web_part *p)
{
	(void)p;
}

void web_html_to_text(pn_buf *out, const char *html, size_t len, size_t max)
{
	(void)max;
	pn_buf_append(out, html, len);
}
