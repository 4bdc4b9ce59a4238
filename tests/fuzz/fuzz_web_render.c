/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_web_render - libFuzzer target: postern-web's message renderer
 *
 * The input is a whole message. It is rendered (with small limits when
 * the first byte is odd, so the cuts are reached) and the fragment must
 * be what a browser may safely show: valid UTF-8, no control characters,
 * only the renderer's own tags, attributes id, class, href, src, sandbox
 * and title, every href and src a same-origin path, sandbox empty. The
 * HTML-to-text converter must respect its bound, the sanitised HTML
 * document (the input taken as HTML) may hold only allowed tags and
 * attributes with quoted values, and the first parts must come back from
 * web_message_part(). Anything else aborts.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/rfc2047.h"
#include "milters/web/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *at)
{
	fprintf(stderr, "fuzz_web_render: %s at: %.60s\n", what, at ? at : "");
	abort();
}

static int one_of(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && strncmp(*list, s, n) == 0)
			return 1;
	return 0;
}

static void check(const char *out, size_t len)
{
	static const char *const tags[] = { "section", "h2", "dl", "dt", "dd", "pre", "p", "a",
					    "iframe", "ul", "li", "span", "div", "small", NULL };
	static const char *const attrs[] = { "id", "class", "href", "src", "sandbox", "title", NULL };
	const char *p = out;
	size_t i;

	if (!pn_utf8_valid(out, len))
		die("invalid UTF-8", out);
	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\n' && out[i] != '\t')
			die("control character", out + i);
	if (strcasestr(out, "<script"))
		die("<script", strcasestr(out, "<script"));
	while ((p = strchr(p, '<')) != NULL) {
		size_t n;

		p += p[1] == '/' ? 2 : 1;
		for (n = 0; isalnum((unsigned char)p[n]); n++)
			;
		if (!one_of(p, n, tags))
			die("tag", p);
		for (p += n; *p && *p != '>';) {
			const char *name = p, *val;
			size_t nl, vl;

			if (*p == ' ') {
				p++;
				continue;
			}
			while (*p && *p != '=' && *p != ' ' && *p != '>')
				p++;
			nl = (size_t)(p - name);
			if (!one_of(name, nl, attrs))
				die("attribute", name);
			if (*p != '=')
				continue;
			if (p[1] != '"')
				die("unquoted value", name);
			val = p + 2;
			p = strchr(val, '"');
			if (p == NULL)
				die("unterminated value", name);
			vl = (size_t)(p - val);
			p++;
			if ((nl == 4 && !strncmp(name, "href", 4)) || (nl == 3 && !strncmp(name, "src", 3))) {
				if (vl < 2 || val[0] != '/' || val[1] == '/' || memchr(val, ':', vl))
					die("link leaves the origin", val);
			}
			if (nl == 7 && vl != 0)
				die("sandbox with permissions", val);
		}
	}
}

/* check_doc - web_html_sanitize's document: allowed tags, quoted values,
 * no attribute that loads or runs */
static void check_doc(const char *doc, size_t len)
{
	static const char *const tags[] = {
		"html", "head", "meta", "title", "body", "a", "abbr", "b", "big", "blockquote", "br",
		"caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div",
		"dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd",
		"li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
		"sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
		"var", NULL
	};
	static const char *const attrs[] = {
		"align", "valign", "colspan", "rowspan", "width", "height", "border", "cellpadding",
		"cellspacing", "bgcolor", "color", "face", "size", "dir", "lang", "title", "style",
		"start", "type", "span", "charset", NULL
	};
	const char *p = doc + 16;	/* after the doctype */

	if (!pn_utf8_valid(doc, len))
		die("document not UTF-8", doc);
	while ((p = strchr(p, '<')) != NULL) {
		size_t n;

		p += p[1] == '/' ? 2 : 1;
		for (n = 0; isalnum((unsigned char)p[n]); n++)
			;
		if (!one_of(p, n, tags))
			die("document tag", p);
		for (p += n; *p && *p != '>';) {
			const char *name = p;

			if (*p == ' ') {
				p++;
				continue;
			}
			while (*p && *p != '=' && *p != ' ' && *p != '>')
				p++;
			if (!one_of(name, (size_t)(p - name), attrs))
				die("document attribute", name);
			if (*p != '=')
				continue;
			if (p[1] != '"' || (p = strchr(p + 2, '"')) == NULL)
				die("document value", name);
			p++;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	web_render_opts o;
	pn_buf out;
	web_part part;
	int i;

	memset(&o, 0, sizeof(o));
	o.message_id_param = "fuzz\"<id>&";
	if (size > 0 && (data[0] & 1)) {
		o.max_text = 64;
		o.max_header = 32;
		o.max_headers = 4;
		o.max_attachments = 3;
		o.max_output = 6000;
	}
	pn_buf_init(&out, 0);
	web_render_message(&out, msg, size, &o);
	check(pn_buf_str(&out), pn_buf_len(&out));
	if (o.max_output && pn_buf_len(&out) > o.max_output + 8192)
		die("output above its cap", NULL);

	pn_buf_reset(&out);
	web_html_to_text(&out, msg, size, 100);
	if (pn_buf_len(&out) > 100)
		die("html_to_text above its bound", pn_buf_str(&out));
	pn_buf_reset(&out);
	web_html_sanitize(&out, msg, size, 0);
	check_doc(pn_buf_str(&out), pn_buf_len(&out));
	pn_buf_free(&out);

	for (i = 0; i < 3; i++)
		if (web_message_part(msg, size, i, &part) == 0) {
			if (part.content_type == NULL || part.data == NULL || part.data[part.len] != '\0')
				die("part without content", NULL);
			web_part_free(&part);
		}
	return 0;
}
