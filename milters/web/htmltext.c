/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	htmltext - an HTML part as readable text (web_html_to_text) and as a
 *	sanitised document (web_html_sanitize)
 * DESCRIPTION
 *	Declared in render.h. A one-pass tokenizer, not an HTML parser: it
 *	only has to find the text a person would read, never to keep any
 *	markup, so a malformed document costs nothing but some odd text.
 *	The output is plain UTF-8 text for web_esc(); nothing here decides
 *	what is safe, because nothing here is ever written as markup.
 *
 *	Work is linear in the input: each byte is looked at a bounded
 *	number of times (the search for a raw-text element's end tag moves
 *	forward only), and output stops at max bytes.
 */
#include "milters/web/render.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "milters/web/esc.h"

typedef struct conv {
	pn_buf *out;
	size_t start, max;	/* out's length when we began, and our budget */
	int space;		/* white space seen since the last text */
	int breaks;		/* line breaks asked for since the last text (0-2) */
	int pre;		/* inside <pre>: white space kept */
	int full;		/* budget used up */
	size_t link_at;		/* output offset where the open <a>'s label began */
	char *href;		/* the open <a>'s href, or NULL */
} conv;

/* Elements whose content is not text a reader sees. */
static const char *const dropped[] = {
	"script", "style", "title", "template", "noembed", "noframes", "xmp", "iframe",
	"object", "select", NULL
};

/* Elements that end a line (1) or a paragraph (2). */
static int break_kind(const char *name, size_t n)
{
	static const char *const para[] = { "p", "h1", "h2", "h3", "h4", "h5", "h6", "table",
					    "blockquote", "pre", "ul", "ol", "dl", "hr", NULL };
	static const char *const line[] = { "br", "div", "li", "tr", "dt", "dd", "section",
					    "article", "header", "footer", "form", "address",
					    "figure", "nav", "aside", "main", "center", "details",
					    "summary", "caption", "fieldset", "legend", NULL };
	size_t i;

	for (i = 0; para[i]; i++)
		if (strlen(para[i]) == n && strncasecmp(para[i], name, n) == 0)
			return 2;
	for (i = 0; line[i]; i++)
		if (strlen(line[i]) == n && strncasecmp(line[i], name, n) == 0)
			return 1;
	return 0;
}

static int is_named(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(want, name, n) == 0;
}

static size_t out_len(const conv *c)
{
	return pn_buf_len(c->out) - c->start;
}

/* emit - text bytes, after the white space and breaks they follow */
static void emit(conv *c, const char *s, size_t n)
{
	if (c->full || n == 0)
		return;
	if (out_len(c) > 0) {
		size_t sep = c->breaks ? (size_t)c->breaks : c->space ? 1 : 0;

		if (c->max && out_len(c) + sep > c->max) {
			c->full = 1;
			return;
		}
		pn_buf_append(c->out, c->breaks ? "\n\n" : " ", sep);
	}
	c->breaks = c->space = 0;
	if (c->max && out_len(c) + n > c->max) {
		n = c->max - (out_len(c) < c->max ? out_len(c) : c->max);
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;	/* cut at a character boundary */
		c->full = 1;
	}
	if (pn_buf_append(c->out, s, n) < 0)
		c->full = 1;
}

static void ask_break(conv *c, int k)
{
	if (k > c->breaks)
		c->breaks = k;
}

static void put_utf8(char *b, size_t *n, unsigned long cp)
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		b[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		b[(*n)++] = (char)(0xc0 | (cp >> 6));
		b[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		b[(*n)++] = (char)(0xe0 | (cp >> 12));
		b[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		b[(*n)++] = (char)(0xf0 | (cp >> 18));
		b[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* The named references mail actually uses; others stay as written. */
static const struct { const char *name; unsigned long cp; } entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", 0xa0 }, { "copy", 0xa9 }, { "reg", 0xae }, { "trade", 0x2122 },
	{ "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 },
	{ "rsquo", 0x2019 }, { "ldquo", 0x201c }, { "rdquo", 0x201d }, { "bull", 0x2022 },
	{ "euro", 0x20ac }, { "pound", 0xa3 }, { "yen", 0xa5 }, { "cent", 0xa2 },
	{ "sect", 0xa7 }, { "deg", 0xb0 }, { "middot", 0xb7 }, { "laquo", 0xab },
	{ "raquo", 0xbb }, { "times", 0xd7 }, { "divide", 0xf7 }, { "shy", 0xad },
	{ "zwnj", 0x200c }, { "zwj", 0x200d }, { "iexcl", 0xa1 }, { "iquest", 0xbf },
	{ "szlig", 0xdf }, { "agrave", 0xe0 }, { "aacute", 0xe1 }, { "acirc", 0xe2 },
	{ "auml", 0xe4 }, { "aring", 0xe5 }, { "aelig", 0xe6 }, { "ccedil", 0xe7 },
	{ "egrave", 0xe8 }, { "eacute", 0xe9 }, { "ecirc", 0xea }, { "euml", 0xeb },
	{ "igrave", 0xec }, { "iacute", 0xed }, { "icirc", 0xee }, { "iuml", 0xef },
	{ "ntilde", 0xf1 }, { "ograve", 0xf2 }, { "oacute", 0xf3 }, { "ocirc", 0xf4 },
	{ "otilde", 0xf5 }, { "ouml", 0xf6 }, { "oslash", 0xf8 }, { "ugrave", 0xf9 },
	{ "uacute", 0xfa }, { "ucirc", 0xfb }, { "uuml", 0xfc }, { "yacute", 0xfd },
	{ "Agrave", 0xc0 }, { "Aacute", 0xc1 }, { "Auml", 0xc4 }, { "Aring", 0xc5 },
	{ "Ccedil", 0xc7 }, { "Eacute", 0xc9 }, { "Egrave", 0xc8 }, { "Ntilde", 0xd1 },
	{ "Ouml", 0xd6 }, { "Uuml", 0xdc }, { "Oslash", 0xd8 }, { "AElig", 0xc6 },
};

/*
 * entity - decode the character reference at s[0] == '&' into b (at most
 * 4 bytes); returns the bytes consumed, 0 when it is no reference.
 */
static size_t entity(const char *s, size_t len, char *b, size_t *bn)
{
	size_t i = 1, j;
	unsigned long cp = 0;

	*bn = 0;
	if (i < len && s[i] == '#') {
		int hex = 0, digits = 0;

		i++;
		if (i < len && (s[i] == 'x' || s[i] == 'X')) {
			hex = 1;
			i++;
		}
		for (; i < len; i++) {
			int d;

			if (isdigit((unsigned char)s[i]))
				d = s[i] - '0';
			else if (hex && isxdigit((unsigned char)s[i]))
				d = (tolower((unsigned char)s[i]) - 'a') + 10;
			else
				break;
			if (cp <= 0x10ffff)
				cp = cp * (hex ? 16 : 10) + (unsigned long)d;
			digits++;
		}
		if (digits == 0)
			return 0;
		if (i < len && s[i] == ';')
			i++;
		put_utf8(b, bn, cp);
		return i;
	}
	for (j = i; j < len && j - i < 10 && isalnum((unsigned char)s[j]); j++)
		;
	if (j == i || j >= len || s[j] != ';')
		return 0;
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++)
		if (strlen(entities[k].name) == j - i && memcmp(entities[k].name, s + i, j - i) == 0) {
			put_utf8(b, bn, entities[k].cp);
			return j + 1 - 0;
		}
	return 0;
}

/* decode_attr - an attribute value with its references decoded, trimmed */
static char *decode_attr(const char *v, size_t n)
{
	pn_buf b;
	size_t i = 0, used, bn;
	char e[8];

	pn_buf_init(&b, n * 4 + 16);
	while (i < n) {
		if (v[i] == '&' && (used = entity(v + i, n - i, e, &bn)) > 0) {
			pn_buf_append(&b, e, bn);
			i += used;
		} else {
			pn_buf_putc(&b, v[i] == '\0' ? ' ' : v[i]);
			i++;
		}
	}
	{
		char *s = pn_buf_steal(&b, NULL), *p = s, *q;

		while (*p && isspace((unsigned char)*p))
			p++;
		q = p + strlen(p);
		while (q > p && isspace((unsigned char)q[-1]))
			*--q = '\0';
		memmove(s, p, strlen(p) + 1);
		return s;
	}
}

/* end_link - close the open <a>: its target as text, unless the label is it */
static void end_link(conv *c)
{
	const char *label;

	if (c->href == NULL)
		return;
	label = pn_buf_str(c->out) + c->start + c->link_at;
	while (*label == ' ' || *label == '\n')
		label++;
	if (c->href[0] && strcmp(label, c->href) != 0) {
		c->space = 1;
		emit(c, "[", 1);
		emit(c, c->href, strlen(c->href));
		emit(c, "]", 1);
	}
	pn_free(c->href);
	c->href = NULL;
}

/*
 * skip_raw - after <name> of an element whose content is dropped, the
 * offset just past its end tag </name ...>, or len when there is none
 */
static size_t skip_raw(const char *s, size_t len, size_t i, const char *name, size_t n)
{
	while (i + 1 < len) {
		const char *lt = memchr(s + i, '<', len - i);

		if (lt == NULL)
			break;
		i = (size_t)(lt - s) + 1;
		if (i < len && s[i] == '/' && len - i - 1 >= n && strncasecmp(s + i + 1, name, n) == 0
		    && (i + 1 + n == len || !isalnum((unsigned char)s[i + 1 + n]))) {
			const char *gt = memchr(s + i, '>', len - i);

			return gt ? (size_t)(gt - s) + 1 : len;
		}
	}
	return len;
}

/*
 * The text converter and the sanitiser read tags with this one scanner, so
 * the same bytes are never one tag to the first and another to the second.
 */
typedef enum { HTML_SKIPPED, HTML_LITERAL, HTML_CUT, HTML_TAG } html_scan;

typedef struct html_tag {
	const char *name;
	size_t name_len;
	int end;			/* </name> */
} html_tag;

/* html_attr_fn - one attribute of a start tag; value NULL when it has none */
typedef void (*html_attr_fn)(void *ctx, const html_tag *t, const char *name, size_t name_len,
			     const char *value, size_t value_len);

/*
 * scan_tag - the construct at s[i] == '<'. *next is the offset after it:
 * a comment or declaration (SKIPPED), a '<' that starts no tag (LITERAL,
 * *next = i + 1), a tag that runs to the end of the input (CUT, *next =
 * len) or a whole tag (TAG, t set), whose attributes fn saw in order.
 */
static html_scan scan_tag(const char *s, size_t len, size_t i, size_t *next, html_tag *t,
			  html_attr_fn fn, void *ctx)
{
	size_t k = i + 1;

	if (i + 3 < len && memcmp(s + i, "<!--", 4) == 0) {
		const char *e = memmem(s + i + 4, len - i - 4, "-->", 3);

		*next = e ? (size_t)(e - s) + 3 : len;
		return HTML_SKIPPED;
	}
	if (i + 1 < len && (s[i + 1] == '!' || s[i + 1] == '?')) {
		const char *gt = memchr(s + i, '>', len - i);

		*next = gt ? (size_t)(gt - s) + 1 : len;
		return HTML_SKIPPED;
	}
	t->end = 0;
	if (k < len && s[k] == '/') {
		t->end = 1;
		k++;
	}
	if (k >= len || !isalpha((unsigned char)s[k])) {
		*next = i + 1;	/* "a < b": a literal */
		return HTML_LITERAL;
	}
	t->name = s + k;
	while (k < len && (isalnum((unsigned char)s[k]) || s[k] == '-' || s[k] == ':'))
		k++;
	t->name_len = (size_t)(s + k - t->name);
	while (k < len && s[k] != '>') {
		size_t an, anl, av = 0, avn = 0;
		int has_value = 0;

		if (isspace((unsigned char)s[k]) || s[k] == '/') {
			k++;
			continue;
		}
		an = k;
		while (k < len && !isspace((unsigned char)s[k]) && s[k] != '=' && s[k] != '>'
		       && s[k] != '/')
			k++;
		anl = k - an;
		if (k < len && s[k] == '=') {
			has_value = 1;
			k++;
			if (k < len && (s[k] == '"' || s[k] == '\'')) {
				const char *q = memchr(s + k + 1, s[k], len - k - 1);

				av = k + 1;
				avn = q ? (size_t)(q - s) - av : len - av;
				k = q ? (size_t)(q - s) + 1 : len;
			} else {
				av = k;
				while (k < len && !isspace((unsigned char)s[k]) && s[k] != '>')
					k++;
				avn = k - av;
			}
		}
		if (!t->end && anl > 0)
			fn(ctx, t, s + an, anl, has_value ? s + av : NULL, avn);
	}
	if (k >= len) {
		*next = len;
		return HTML_CUT;
	}
	*next = k + 1;
	return HTML_TAG;
}

typedef struct text_tag {
	conv *c;
	char *alt;
} text_tag;

/* text_attr - html_attr_fn of the text converter: a link's target, an image's alt */
static void text_attr(void *ctx, const html_tag *t, const char *name, size_t n,
		      const char *value, size_t value_len)
{
	text_tag *tt = ctx;

	if (value == NULL)
		return;
	if (is_named(t->name, t->name_len, "a") && is_named(name, n, "href")) {
		end_link(tt->c);
		tt->c->href = decode_attr(value, value_len);
		tt->c->link_at = out_len(tt->c);
	} else if (is_named(t->name, t->name_len, "img") && is_named(name, n, "alt")) {
		pn_free(tt->alt);
		tt->alt = decode_attr(value, value_len);
	}
}

/*
 * tag - the tag starting at s[i] == '<'; returns the offset after it.
 */
static size_t tag(conv *c, const char *s, size_t len, size_t i)
{
	text_tag tt = {c, NULL};
	html_tag t;
	size_t k;

	switch (scan_tag(s, len, i, &k, &t, text_attr, &tt)) {
	case HTML_LITERAL:
		emit(c, "<", 1);
		return k;
	case HTML_SKIPPED:
		return k;
	case HTML_CUT:
		pn_free(tt.alt);
		return k;	/* a tag cut short: not text */
	case HTML_TAG:
		break;
	}
	if (is_named(t.name, t.name_len, "img") && tt.alt && *tt.alt) {
		c->space = 1;
		emit(c, "[image: ", 8);
		emit(c, tt.alt, strlen(tt.alt));
		emit(c, "]", 1);
		c->space = 1;
	}
	pn_free(tt.alt);
	if (!t.end) {
		size_t d;

		for (d = 0; dropped[d]; d++)
			if (is_named(t.name, t.name_len, dropped[d]))
				return skip_raw(s, len, k, dropped[d], t.name_len);
	}
	if (is_named(t.name, t.name_len, "a") && t.end)
		end_link(c);
	if (is_named(t.name, t.name_len, "pre"))
		c->pre += t.end ? (c->pre > 0 ? -1 : 0) : 1;
	if (is_named(t.name, t.name_len, "td") || is_named(t.name, t.name_len, "th"))
		c->space = 1;
	ask_break(c, break_kind(t.name, t.name_len));
	return k;
}

void web_html_to_text(pn_buf *out, const char *html, size_t len, size_t max)
{
	conv c;
	size_t i = 0, used, bn, run;
	char e[8];

	memset(&c, 0, sizeof(c));
	c.out = out;
	c.start = pn_buf_len(out);
	c.max = max;
	while (i < len && !c.full) {
		unsigned char ch = (unsigned char)html[i];

		if (ch == '<') {
			i = tag(&c, html, len, i);
		} else if (ch == '&') {
			used = entity(html + i, len - i, e, &bn);
			if (used == 0) {
				emit(&c, "&", 1);
				i++;
			} else {
				emit(&c, e, bn);
				i += used;
			}
		} else if (isspace(ch) || ch == '\0') {
			if (c.pre) {
				if (ch == '\r') {
					i++;
					continue;
				}
				emit(&c, ch == '\0' ? " " : html + i, 1);
			} else {
				c.space = 1;
			}
			i++;
		} else {
			for (run = i; run < len && html[run] != '<' && html[run] != '&' && html[run] != '\0'
				      && !isspace((unsigned char)html[run]); run++)
				;
			emit(&c, html + i, run - i);
			i = run;
		}
	}
	end_link(&c);
	pn_free(c.href);
}

/* ---- the sanitised document (web_html_sanitize) ---- */

/* Formatting a reader needs, nothing that loads, runs or submits. */
static const char *const safe_tags[] = {
	"a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
	"colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4",
	"h5", "h6", "hr", "i", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
	"small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
	"thead", "tr", "tt", "u", "ul", "var", NULL
};

static const char *const safe_attrs[] = {
	"align", "valign", "colspan", "rowspan", "width", "height", "border", "cellpadding",
	"cellspacing", "bgcolor", "color", "face", "size", "dir", "lang", "title", "style", "start",
	"type", "span", NULL
};

/* Dropped with their content, on top of those of the text view. */
static const char *const dropped_doc[] = { "svg", "math", "textarea", "noscript", NULL };

static int in_list(const char *const *list, const char *s, size_t n)
{
	for (; *list; list++)
		if (is_named(s, n, *list))
			return 1;
	return 0;
}

/* style_ok - an inline style that can neither load nor run anything */
static int style_ok(const char *v)
{
	static const char *const bad[] = { "url", "expression", "@import", "\\", "javascript",
					   "behavior", "binding", "image", "src", "<", NULL };
	size_t i;

	for (i = 0; bad[i]; i++)
		if (strcasestr(v, bad[i]))
			return 0;
	return 1;
}

typedef struct sanit {
	pn_buf *out;
	char *href;	/* the open <a>'s target, written as text at </a> */
} sanit;

static void close_link(sanit *z)
{
	if (z->href && z->href[0] && z->href[0] != '#') {
		pn_buf_puts(z->out, " [");
		web_esc(z->out, z->href);
		pn_buf_puts(z->out, "]");
	}
	pn_free(z->href);
	z->href = NULL;
}

typedef struct safe_attrs_ctx {
	sanit *z;
	char *alt;
	pn_buf attrs;		/* the allowed attributes, escaped */
} safe_attrs_ctx;

/* safe_attr - html_attr_fn of the sanitiser: keep what safe_attrs allows */
static void safe_attr(void *ctx, const html_tag *t, const char *name, size_t n,
		      const char *value, size_t value_len)
{
	safe_attrs_ctx *sa = ctx;

	if (value == NULL)
		return;
	if (is_named(t->name, t->name_len, "a") && is_named(name, n, "href")) {
		close_link(sa->z);
		sa->z->href = decode_attr(value, value_len);
	} else if (is_named(t->name, t->name_len, "img") && is_named(name, n, "alt")) {
		pn_free(sa->alt);
		sa->alt = decode_attr(value, value_len);
	} else if (in_list(safe_attrs, name, n)) {
		char *v = decode_attr(value, value_len);

		if (!is_named(name, n, "style") || style_ok(v)) {
			size_t j;

			pn_buf_putc(&sa->attrs, ' ');
			for (j = 0; j < n; j++)
				pn_buf_putc(&sa->attrs, tolower((unsigned char)name[j]));
			pn_buf_puts(&sa->attrs, "=\"");
			web_esc(&sa->attrs, v);
			pn_buf_putc(&sa->attrs, '"');
		}
		pn_free(v);
	}
}

static size_t safe_tag(sanit *z, const char *s, size_t len, size_t i)
{
	safe_attrs_ctx sa = {z, NULL, {0}};
	html_scan kind;
	html_tag t;
	size_t k;

	pn_buf_init(&sa.attrs, 0);
	kind = scan_tag(s, len, i, &k, &t, safe_attr, &sa);
	if (kind == HTML_LITERAL) {
		pn_buf_puts(z->out, "&lt;");
	} else if (kind == HTML_TAG) {
		if (is_named(t.name, t.name_len, "img")) {
			if (sa.alt && *sa.alt) {
				pn_buf_puts(z->out, "[image: ");
				web_esc(z->out, sa.alt);
				pn_buf_puts(z->out, "]");
			}
		} else if (!t.end && (in_list(dropped, t.name, t.name_len)
				      || in_list(dropped_doc, t.name, t.name_len))) {
			k = skip_raw(s, len, k, t.name, t.name_len);
		} else if (in_list(safe_tags, t.name, t.name_len)) {
			size_t j;

			if (t.end && is_named(t.name, t.name_len, "a"))
				close_link(z);
			pn_buf_puts(z->out, t.end ? "</" : "<");
			for (j = 0; j < t.name_len; j++)
				pn_buf_putc(z->out, tolower((unsigned char)t.name[j]));
			if (!t.end && !is_named(t.name, t.name_len, "a"))
				pn_buf_append(z->out, pn_buf_str(&sa.attrs), pn_buf_len(&sa.attrs));
			pn_buf_putc(z->out, '>');
		}
	}
	pn_free(sa.alt);
	pn_buf_free(&sa.attrs);
	return k;
}

void web_html_sanitize(pn_buf *out, const char *html, size_t len, size_t max)
{
	size_t start = pn_buf_len(out), i = 0, used, bn, run;
	sanit z;
	char e[8];

	z.out = out;
	z.href = NULL;
	pn_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>HTML part"
		    "</title></head><body>\n");
	while (i < len && (max == 0 || pn_buf_len(out) - start < max)) {
		unsigned char ch = (unsigned char)html[i];

		if (ch == '<') {
			i = safe_tag(&z, html, len, i);
		} else if (ch == '&') {
			used = entity(html + i, len - i, e, &bn);
			if (used == 0) {
				pn_buf_puts(out, "&amp;");
				i++;
			} else {
				web_esc_n(out, e, bn);
				i += used;
			}
		} else {
			for (run = i; run < len && html[run] != '<' && html[run] != '&'; run++)
				;
			web_esc_n(out, html + i, run - i);
			i = run;
		}
	}
	close_link(&z);
	pn_buf_puts(out, "\n</body></html>\n");
}
