/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	render - an archived message as safe HTML, and one part's content
 * DESCRIPTION
 *	See render.h. The header section is read here (every field, in
 *	order, which the MIME walk does not keep); the body is the MIME
 *	walk of common/mime.c, so part numbers, filenames and sizes are the
 *	ones the archive and the audit records show. Every byte that came
 *	from the message is written with web_esc(); the only markup is
 *	written from string constants below.
 */
#include "milters/web/render.h"

#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/mime.h"
#include "common/rfc2047.h"
#include "milters/web/esc.h"

/* The note that closes a fragment cut at max_output, with the closing tags. */
#define TAIL_ROOM 4096

typedef struct ctx {
	pn_buf *out;
	size_t start;
	size_t max_output;
	int cut;		/* max_output reached: nothing more is added */
	char *id;		/* message_id_param, percent-encoded */
} ctx;

static size_t pick(size_t v, size_t dflt)
{
	return v ? v : dflt;
}

/* url_arg - percent-encode all but RFC 3986 unreserved characters */
static char *url_arg(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	pn_buf b;

	pn_buf_init(&b, 0);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		    || c == '-' || c == '.' || c == '_' || c == '~') {
			pn_buf_putc(&b, c);
		} else {
			pn_buf_putc(&b, '%');
			pn_buf_putc(&b, hex[c >> 4]);
			pn_buf_putc(&b, hex[c & 15]);
		}
	}
	return pn_buf_steal(&b, NULL);
}

/*
 * add - append one finished item (a header row, a part, an attachment)
 * unless the fragment would pass max_output; then write the note once and
 * refuse every later item, so the markup stays whole.
 */
static int add(ctx *c, pn_buf *item)
{
	int rc = 0;

	if (!c->cut && pn_buf_len(c->out) - c->start + pn_buf_len(item) > c->max_output) {
		c->cut = 1;
		pn_buf_puts(c->out, "<p class=\"note\" id=\"output-truncated\">The rest of this "
			    "message is too large to show here; download it instead.</p>");
	}
	if (!c->cut && pn_buf_append(c->out, pn_buf_str(item), pn_buf_len(item)) < 0)
		rc = -1;
	pn_buf_reset(item);
	return c->cut ? 0 : rc;
}

/* ---- headers ---- */

/* field_end - offset after the (folded) header field starting at i */
static size_t field_end(const char *msg, size_t len, size_t i)
{
	for (;;) {
		const char *nl = memchr(msg + i, '\n', len - i);

		if (nl == NULL)
			return len;
		i = (size_t)(nl - msg) + 1;
		if (i >= len || (msg[i] != ' ' && msg[i] != '\t'))
			return i;
	}
}

static void header_row(pn_buf *item, const char *f, size_t n, size_t max_header)
{
	const char *colon = memchr(f, ':', n);
	size_t nlen, vlen, raw_cap = max_header * 4 + 1024, dlen;
	const char *v;
	char *d, *p;
	int raw_cut = 0;

	nlen = (size_t)(colon - f);
	v = colon + 1;
	vlen = n - nlen - 1;
	if (vlen > raw_cap) {
		vlen = raw_cap;	/* decoding is linear, but why decode what is not shown */
		raw_cut = 1;
	}
	d = pn_rfc2047_decode(v, vlen);
	for (p = d; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';	/* a decoded CR LF starts no new field or line */
	for (p = d; *p == ' ' || *p == '\t'; p++)
		;
	dlen = strlen(p);
	while (dlen > 0 && (p[dlen - 1] == ' ' || p[dlen - 1] == '\t'))
		dlen--;
	pn_buf_puts(item, "<dt>");
	web_esc_n(item, f, nlen);
	pn_buf_puts(item, "</dt><dd>");
	if (dlen > max_header || raw_cut) {
		size_t cut = dlen < max_header ? dlen : max_header;

		while (cut > 0 && ((unsigned char)p[cut] & 0xc0) == 0x80)
			cut--;
		web_esc_n(item, p, cut);
		pn_buf_printf(item, " <small class=\"note\">[cut: %zu bytes]</small>",
			      raw_cut ? n - nlen - 1 : dlen);
	} else {
		web_esc_n(item, p, dlen);
	}
	pn_buf_puts(item, "</dd>\n");
	pn_free(d);
}

/* render_headers - every field of the top-level header section; returns
 * where the body starts */
static int render_headers(ctx *c, const char *msg, size_t len, size_t max_headers,
			  size_t max_header)
{
	pn_buf item;
	size_t i = 0, e, shown = 0, more = 0;
	int rc = 0;

	pn_buf_init(&item, 0);
	pn_buf_puts(c->out, "<section id=\"headers\"><h2>Headers</h2>\n<dl class=\"headers\">\n");
	while (i < len && msg[i] != '\n' && !(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) {
		const char *colon;

		e = field_end(msg, len, i);
		colon = memchr(msg + i, ':', e - i);
		/* a field has a name before its colon; other lines (an mbox
		 * "From " line, garbage) are not fields */
		if (colon && colon > msg + i && memchr(msg + i, ' ', (size_t)(colon - msg - i)) == NULL
		    && memchr(msg + i, '\t', (size_t)(colon - msg - i)) == NULL) {
			if (shown < max_headers) {
				header_row(&item, msg + i, e - i, max_header);
				if (add(c, &item) < 0)
					rc = -1;
				shown++;
			} else {
				more++;
			}
		}
		i = e;
	}
	pn_buf_puts(c->out, "</dl>\n");
	if (more)
		pn_buf_printf(c->out, "<p class=\"note\" id=\"headers-truncated\">%zu more header "
			      "fields not shown.</p>\n", more);
	pn_buf_puts(c->out, "</section>\n");
	pn_buf_free(&item);
	return rc;
}

/* ---- body and attachments ---- */

static int is_text(const pn_mime_part *p, const char *type)
{
	return !p->is_attachment && !p->is_container && strcmp(p->content_type, type) == 0;
}

static void text_part(ctx *c, pn_buf *item, const pn_mime_part *p, size_t i, size_t max_text,
		      int *frames)
{
	const char *text = p->text ? p->text : "";

	pn_buf_printf(item, "<div class=\"part\" id=\"part-%zu\">", i);
	if (strcmp(p->content_type, "text/plain") == 0) {
		pn_buf_puts(item, "<pre class=\"text\">");
		web_esc_n(item, text, p->text_len);
		pn_buf_puts(item, "</pre>");
	} else {
		pn_buf conv;

		pn_buf_init(&conv, 0);
		web_html_to_text(&conv, text, p->text_len, max_text);
		pn_buf_puts(item, "<pre class=\"html-text\">");
		web_esc_n(item, pn_buf_str(&conv), pn_buf_len(&conv));
		pn_buf_puts(item, "</pre>");
		pn_buf_free(&conv);
		pn_buf_printf(item, "<p><a class=\"view-html\" href=\"/message/html?id=%s&amp;part=%zu\">"
			      "View HTML</a></p>", c->id, i);
		/* One frame: each is a request (and an access record) of its own. */
		if ((*frames)++ == 0)
			pn_buf_printf(item, "<iframe sandbox=\"\" src=\"/message/html?id=%s&amp;part=%zu\" "
				      "title=\"HTML part %zu\"></iframe>", c->id, i, i);
	}
	if (p->text_truncated)
		pn_buf_printf(item, "<p class=\"note\">Text cut after %zu bytes; the whole part is in "
			      "the download.</p>", p->text_len);
	pn_buf_puts(item, "</div>\n");
}

/*
 * esc_name - a filename with its bidirectional controls (U+202A..U+202E,
 * U+2066..U+2069) shown as U+FFFD: "invoice<RLO>fdp.exe" would otherwise
 * read as "invoiceexe.pdf"
 */
static void esc_name(pn_buf *item, const char *name)
{
	char *s = pn_strdup(name);
	unsigned char *p;

	for (p = (unsigned char *)s; p[0] && p[1] && p[2]; p++)
		if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
				     || (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
			p[0] = 0xef;
			p[1] = 0xbf;
			p[2] = 0xbd;
			p += 2;
		}
	web_esc(item, s);
	pn_free(s);
}

static void attachment_row(ctx *c, pn_buf *item, const pn_mime_part *p, size_t i)
{
	pn_buf_printf(item, "<li class=\"attachment\"><a href=\"/message/part?id=%s&amp;part=%zu\">",
		      c->id, i);
	if (p->filename && *p->filename)
		esc_name(item, p->filename);
	else
		pn_buf_printf(item, "(part %zu, no name)", i);
	pn_buf_puts(item, "</a> <span class=\"type\">");
	web_esc(item, p->content_type);
	pn_buf_printf(item, "</span> <span class=\"size\">%llu bytes</span></li>\n", p->size);
}

int web_render_message(pn_buf *out, const char *msg, size_t len, const web_render_opts *o)
{
	static const web_render_opts none;
	size_t max_text, i, n, body, listed = 0, left = 0;
	pn_mime_limits lim;
	pn_buf item;
	pn_mime *m;
	ctx c;
	int rc = 0, frames = 0, shown = 0;

	if (o == NULL)
		o = &none;
	max_text = pick(o->max_text, WEB_RENDER_MAX_TEXT);
	memset(&c, 0, sizeof(c));
	c.out = out;
	c.start = pn_buf_len(out);
	c.max_output = pick(o->max_output, WEB_RENDER_MAX_OUTPUT);
	c.max_output = c.max_output > TAIL_ROOM ? c.max_output - TAIL_ROOM : c.max_output;
	c.id = url_arg(o->message_id_param);
	pn_buf_init(&item, 0);

	if (render_headers(&c, msg, len, pick(o->max_headers, WEB_RENDER_MAX_HEADERS),
			   pick(o->max_header, WEB_RENDER_MAX_HEADER)) < 0)
		rc = -1;

	memset(&lim, 0, sizeof(lim));
	lim.keep_text_max = max_text;
	lim.keep_text_total = max_text * 4;
	m = pn_mime_new(&lim);
	body = pn_mime_feed_headers(m, msg, len);
	pn_mime_body(m, msg + body, len - body);
	pn_mime_finish(m);
	n = pn_mime_part_count(m);

	pn_buf_puts(out, "<section id=\"body\"><h2>Text</h2>\n");
	for (i = 0; i < n; i++) {
		const pn_mime_part *p = pn_mime_part_get(m, i);

		if (!is_text(p, "text/plain") && !is_text(p, "text/html"))
			continue;
		text_part(&c, &item, p, i, max_text, &frames);
		if (add(&c, &item) < 0)
			rc = -1;
		shown++;
	}
	if (shown == 0)
		pn_buf_puts(out, "<p class=\"note\">This message has no text part.</p>\n");
	if (pn_mime_truncated(m))
		pn_buf_printf(out, "<p class=\"note\" id=\"mime-truncated\">The MIME structure is "
			      "larger or deeper than shown here (at most %d parts, %d levels); "
			      "download the message to see all of it.</p>\n",
			      PN_MIME_MAX_PARTS, PN_MIME_MAX_DEPTH);
	pn_buf_puts(out, "</section>\n");

	pn_buf_puts(out, "<section id=\"attachments-section\"><h2>Attachments</h2>\n"
		    "<ul id=\"attachments\">\n");
	for (i = 0; i < n; i++) {
		const pn_mime_part *p = pn_mime_part_get(m, i);

		if (is_text(p, "text/plain") || is_text(p, "text/html")
		    || (p->is_container && !p->is_attachment))
			continue;
		if (listed >= pick(o->max_attachments, WEB_RENDER_MAX_ATTACHMENTS)) {
			left++;
			continue;
		}
		attachment_row(&c, &item, p, i);
		if (add(&c, &item) < 0)
			rc = -1;
		listed++;
	}
	pn_buf_puts(out, "</ul>\n");
	if (left)
		pn_buf_printf(out, "<p class=\"note\">%zu more parts not listed.</p>\n", left);
	pn_buf_puts(out, "</section>\n");

	pn_mime_free(m);
	pn_buf_free(&item);
	pn_free(c.id);
	return rc;
}

/* walk - the MIME walk of a whole message, keeping every part's content */
static pn_mime *walk_all(const char *msg, size_t len, unsigned max_depth)
{
	pn_mime_limits lim;
	size_t body;
	pn_mime *m;

	memset(&lim, 0, sizeof(lim));
	lim.keep_text_max = WEB_PART_MAX;
	lim.keep_all_content = 1;
	lim.max_depth = max_depth;
	m = pn_mime_new(&lim);
	body = pn_mime_feed_headers(m, msg, len);
	pn_mime_body(m, msg + body, len - body);
	pn_mime_finish(m);
	return m;
}

/*
 * embedded - the whole of an embedded message (part p of a walk): the walk
 * keeps only its header section, so walk again with the depth limit at the
 * container's depth, where it is one leaf holding the message as sent, and
 * take the leaf with the container's digest (earlier parts may number
 * differently in that walk, the bytes cannot). NULL when not found.
 */
static const pn_mime_part *embedded(const char *msg, size_t len, const pn_mime_part *p,
				    pn_mime **again)
{
	size_t i;

	*again = NULL;
	if (p->depth == 0)
		return NULL;
	*again = walk_all(msg, len, p->depth);
	for (i = 0; i < pn_mime_part_count(*again); i++) {
		const pn_mime_part *q = pn_mime_part_get(*again, i);

		if (!q->is_container && q->depth == p->depth && strcmp(q->sha256, p->sha256) == 0
		    && strcmp(q->content_type, p->content_type) == 0)
			return q;
	}
	return NULL;
}

int web_message_part(const char *msg, size_t len, int part, web_part *out)
{
	const pn_mime_part *p, *whole;
	pn_mime *m, *again = NULL;

	memset(out, 0, sizeof(*out));
	if (part < 0)
		return -1;
	m = walk_all(msg, len, 0);
	if ((size_t)part >= pn_mime_part_count(m)) {
		pn_mime_free(m);
		return -1;
	}
	p = pn_mime_part_get(m, (size_t)part);
	out->content_type = pn_strdup(p->content_type);
	out->filename = p->filename ? pn_strdup(p->filename) : NULL;
	out->charset = strncmp(p->content_type, "text/", 5) == 0 ? pn_strdup("utf-8") : NULL;
	if (p->is_container && (whole = embedded(msg, len, p, &again)) != NULL)
		p = whole;
	out->data = pn_memdup0(p->text ? p->text : "", p->text ? p->text_len : 0);
	out->len = p->text ? p->text_len : 0;
	out->truncated = p->text_truncated;
	pn_mime_free(again);
	pn_mime_free(m);
	return 0;
}

void web_part_free(web_part *p)
{
	if (p == NULL)
		return;
	pn_free(p->content_type);
	pn_free(p->charset);
	pn_free(p->filename);
	pn_free(p->data);
	memset(p, 0, sizeof(*p));
}
