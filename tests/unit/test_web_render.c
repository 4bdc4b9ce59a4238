/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_web_render - the message page fragment is safe on hostile mail and
 * still readable: the attacker's corpus in tests/e2e/data/hostile/ (also
 * loaded by the browser test) plus messages built here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/rfc2047.h"
#include "milters/web/esc.h"
#include "milters/web/render.h"
#include "tests/unit/testlib.h"

#define HOSTILE "tests/e2e/data/hostile"

static char *load(const char *name, size_t *len)
{
	const char *top = getenv("POSTERN_TOP");
	char path[4096];
	char *s;

	snprintf(path, sizeof(path), "%s/%s/%s", top && *top ? top : ".", HOSTILE, name);
	s = t_read_file(path, len);
	if (s == NULL)
		fail_msg("cannot read %s", path);
	return s;
}

static char *render(const char *msg, size_t len, const char *id)
{
	web_render_opts o;
	pn_buf out;

	memset(&o, 0, sizeof(o));
	o.message_id_param = id;
	pn_buf_init(&out, 0);
	assert_int_equal(web_render_message(&out, msg, len, &o), 0);
	return pn_buf_steal(&out, NULL);
}

static int has_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

/* The tags the renderer may write; anything else came from the mail. */
static int allowed_tag(const char *name, size_t n)
{
	static const char *const ok[] = {
		"section", "h2", "h3", "dl", "dt", "dd", "pre", "p", "a", "iframe", "ul",
		"li", "span", "div", "small", "em", "strong", "code", NULL
	};
	size_t i;

	for (i = 0; ok[i]; i++)
		if (strlen(ok[i]) == n && strncasecmp(ok[i], name, n) == 0)
			return 1;
	return 0;
}

/*
 * What a browser would see: every tag in out is one of the renderer's,
 * every attribute is id, class, href, src, sandbox or title, no event
 * handler, every link and frame source a same-origin path, the text
 * valid UTF-8 without control characters.
 */
static void assert_safe(const char *out, const char *what)
{
	const char *p = out, *q;
	size_t n;

	if (!pn_utf8_valid(out, strlen(out)))
		fail_msg("%s: output is not valid UTF-8", what);
	for (q = out; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t')
			fail_msg("%s: control character 0x%02x in output", what, *q);
	if (has_ci(out, "<script"))
		fail_msg("%s: <script in output", what);
	while ((p = strchr(p, '<')) != NULL) {
		p++;
		if (*p == '/')
			p++;
		for (n = 0; isalnum((unsigned char)p[n]); n++)
			;
		if (!allowed_tag(p, n))
			fail_msg("%s: tag <%.*s> in output", what, (int)(n ? n : 10), p);
		p += n;
		for (;;) {
			const char *name, *val = NULL;
			size_t nl, vl = 0;

			while (*p == ' ')
				p++;
			if (*p == '>' || *p == '\0')
				break;
			name = p;
			while (*p && *p != '=' && *p != ' ' && *p != '>')
				p++;
			nl = (size_t)(p - name);
			if (*p == '=') {
				p++;
				if (*p != '"')
					fail_msg("%s: unquoted attribute value %.20s", what, name);
				val = ++p;
				while (*p && *p != '"')
					p++;
				vl = (size_t)(p - val);
				if (*p)
					p++;
			}
			if (nl >= 2 && strncasecmp(name, "on", 2) == 0)
				fail_msg("%s: event attribute %.*s", what, (int)nl, name);
			if (!((nl == 2 && !strncmp(name, "id", 2)) || (nl == 5 && !strncmp(name, "class", 5))
			      || (nl == 4 && !strncmp(name, "href", 4)) || (nl == 3 && !strncmp(name, "src", 3))
			      || (nl == 7 && !strncmp(name, "sandbox", 7))
			      || (nl == 5 && !strncmp(name, "title", 5))))
				fail_msg("%s: attribute %.*s", what, (int)nl, name);
			if (val && ((nl == 4 && !strncmp(name, "href", 4)) || (nl == 3 && !strncmp(name, "src", 3)))) {
				/* same origin: "/path" but not "//host", or "#frag" */
				if (!((vl >= 2 && val[0] == '/' && val[1] != '/') || (vl >= 1 && val[0] == '#')))
					fail_msg("%s: %.*s=\"%.*s\" leaves the origin", what, (int)nl, name,
						 (int)vl, val);
				if (memmem(val, vl, ":", 1))
					fail_msg("%s: scheme in %.*s", what, (int)vl, val);
			}
			if (val && nl == 7 && vl != 0)
				fail_msg("%s: sandbox=\"%.*s\" allows something", what, (int)vl, val);
		}
	}
	if (has_ci(out, "href=\"javascript") || has_ci(out, "src=\"http"))
		fail_msg("%s: live javascript: or remote link", what);
}

static void render_file_safe(const char *name, char **outp)
{
	size_t len;
	char *msg = load(name, &len), *out = render(msg, len, "42");

	assert_safe(out, name);
	assert_non_null(strstr(out, "id=\"headers\""));
	assert_non_null(strstr(out, "id=\"body\""));
	assert_non_null(strstr(out, "id=\"attachments\""));
	assert_true(strlen(out) <= WEB_RENDER_MAX_OUTPUT + 4096);
	pn_free(msg);
	if (outp)
		*outp = out;
	else
		pn_free(out);
}

/* Every file of the corpus: the same checks, whatever the file holds. */
static void test_corpus_all_safe(void **state)
{
	const char *top = getenv("POSTERN_TOP");
	char dir[4096];
	DIR *d;
	struct dirent *e;
	int count = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/%s", top && *top ? top : ".", HOSTILE);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n < 5 || strcmp(e->d_name + n - 4, ".eml") != 0)
			continue;
		render_file_safe(e->d_name, NULL);
		count++;
	}
	closedir(d);
	assert_true(count >= 7);
}

static void test_html_tricks(void **state)
{
	char *out;

	(void)state;
	render_file_safe("script-html.eml", &out);
	/* readable: the text, links as text, entities decoded and escaped again */
	assert_non_null(strstr(out, "Hello reader, this is the visible text."));
	assert_non_null(strstr(out, "good link [https://good.example/page?a=1&amp;b=2]"));
	assert_non_null(strstr(out, "&lt;script&gt;alert(&#39;entity text&#39;)&lt;/script&gt;"));
	assert_non_null(strstr(out, "&amp; &quot;quoted&quot; &lt;b&gt; \xc3\xa9t\xc3\xa9"));
	assert_non_null(strstr(out, "click js [javascript:alert(&#39;js&#39;)]"));
	assert_non_null(strstr(out, "[image: tracker]"));
	assert_non_null(strstr(out, "svg text"));
	assert_non_null(strstr(out, "The end."));
	/* script, style and comment content is not text */
	assert_null(strstr(out, "alert(&#39;head&#39;)"));
	assert_null(strstr(out, "alert(&#39;upper&#39;)"));
	assert_null(strstr(out, "alert(&#39;svg script&#39;)"));
	assert_null(strstr(out, "alert(&#39;comment&#39;)"));
	assert_null(strstr(out, "@import"));
	/* the plain part is shown as it is, escaped */
	assert_non_null(strstr(out, "Plain part: &lt;script&gt;alert(&#39;plain&#39;)&lt;/script&gt;"));
	/* the HTML itself only in a sandboxed same-origin frame */
	assert_non_null(strstr(out, "<a class=\"view-html\" href=\"/message/html?id=42&amp;part=1\">View HTML</a>"));
	assert_non_null(strstr(out, "<iframe sandbox=\"\" src=\"/message/html?id=42&amp;part=1\""));
	pn_free(out);
}

static void test_encoded_headers(void **state)
{
	char *out, *msg;
	size_t len;
	web_part part;

	(void)state;
	render_file_safe("encoded-headers.eml", &out);
	assert_non_null(strstr(out, "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;"));
	assert_non_null(strstr(out, "&lt;script&gt;alert(&#39;from&#39;)&lt;/script&gt;"));
	assert_non_null(strstr(out, "&lt;script&gt;alert(&#39;filename&#39;)&lt;/script&gt;.html"));
	assert_non_null(strstr(out, "&lt;img src=x onerror=alert(1)&gt;.bin"));
	assert_non_null(strstr(out, "&quot; onmouseover=&quot;alert(1)&quot;"));
	/* a CR LF decoded from an encoded-word does not start a new line */
	assert_non_null(strstr(out, "a  Content-Type: text/html"));
	/* attachments: link by the walk's part number */
	assert_non_null(strstr(out, "href=\"/message/part?id=42&amp;part=1\""));
	assert_non_null(strstr(out, "href=\"/message/part?id=42&amp;part=2\""));
	assert_non_null(strstr(out, "href=\"/message/part?id=42&amp;part=3\""));
	pn_free(out);

	msg = load("encoded-headers.eml", &len);
	assert_int_equal(web_message_part(msg, len, 1, &part), 0);
	assert_string_equal(part.content_type, "text/html");
	assert_string_equal(part.filename, "<script>alert('filename')</script>.html");
	assert_string_equal(part.data, "<script>alert('att')</script>");
	web_part_free(&part);
	assert_int_equal(web_message_part(msg, len, 3, &part), 0);
	assert_string_equal(part.content_type, "image/svg+xml");
	assert_string_equal(part.filename, "evil.svg");
	web_part_free(&part);
	assert_int_equal(web_message_part(msg, len, 4, &part), -1);
	assert_null(part.data);
	assert_int_equal(web_message_part(msg, len, -1, &part), -1);
	pn_free(msg);
}

static void test_long_subject(void **state)
{
	char *out;

	(void)state;
	render_file_safe("long-subject.eml", &out);
	assert_non_null(strstr(out, "A very long subject &lt;script&gt;alert(1)&lt;/script&gt; A very"));
	assert_non_null(strstr(out, "[cut: 10000 bytes]"));
	assert_true(strlen(out) < 20000);
	pn_free(out);
}

static void test_many_parts(void **state)
{
	char *out, *p;
	size_t n = 0;

	(void)state;
	render_file_safe("many-parts.eml", &out);
	for (p = out; (p = strstr(p, "<li class=\"attachment\"")) != NULL; p++)
		n++;
	assert_true(n >= 999 && n <= WEB_RENDER_MAX_ATTACHMENTS);
	assert_non_null(strstr(out, "part0.txt"));
	assert_non_null(strstr(out, "id=\"mime-truncated\""));
	pn_free(out);
}

static void test_deep_and_broken(void **state)
{
	char *out;

	(void)state;
	render_file_safe("deep-nesting.eml", &out);
	assert_non_null(strstr(out, "id=\"mime-truncated\""));
	pn_free(out);
	render_file_safe("broken-mime.eml", &out);
	/* invalid bytes shown as U+FFFD, the NUL dropped, the text kept */
	assert_non_null(strstr(out, "bad \xef\xbf\xbd("));
	assert_non_null(strstr(out, "bytes"));
	assert_null(strstr(out, "\x1b"));
	pn_free(out);
}

/* An ID with URL and HTML syntax in it stays one query argument. */
static void test_hostile_id(void **state)
{
	static const char msg[] = "Subject: x\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n";
	char *out;

	(void)state;
	out = render(msg, sizeof(msg) - 1, "a\"b<c>&d=e f");
	assert_safe(out, "hostile id");
	assert_non_null(strstr(out, "/message/html?id=a%22b%3Cc%3E%26d%3De%20f&amp;part=0"));
	pn_free(out);
}

static void test_part_decoding(void **state)
{
	static const char msg[] =
		"Subject: parts\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
		"--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nt=E9t=E9 =3D ok\r\n"
		"--B\r\nContent-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.bin\r\n\r\n"
		"AAEC/w==\r\n"
		"--B\r\nContent-Type: application/octet-stream\r\n"
		"Content-Disposition: attachment; filename=\"invoice\xe2\x80\xae" "fdp.exe\"\r\n\r\nMZ\r\n"
		"--B--\r\n";
	web_part p;
	char *out;

	(void)state;
	assert_int_equal(web_message_part(msg, sizeof(msg) - 1, 0, &p), 0);
	assert_string_equal(p.data, "t\xc3\xa9t\xc3\xa9 = ok");
	assert_string_equal(p.charset, "utf-8");
	web_part_free(&p);
	assert_int_equal(web_message_part(msg, sizeof(msg) - 1, 1, &p), 0);
	assert_int_equal(p.len, 4);
	assert_memory_equal(p.data, "\x00\x01\x02\xff", 4);
	assert_string_equal(p.filename, "r\xc3\xa9sum\xc3\xa9.bin");
	assert_null(p.charset);
	web_part_free(&p);

	out = render(msg, sizeof(msg) - 1, "7");
	assert_safe(out, "parts");
	assert_non_null(strstr(out, "t\xc3\xa9t\xc3\xa9 = ok"));
	assert_non_null(strstr(out, "r\xc3\xa9sum\xc3\xa9.bin"));
	assert_non_null(strstr(out, "application/octet-stream"));
	assert_non_null(strstr(out, "4 bytes"));
	/* a right-to-left override cannot dress an .exe as a .pdf */
	assert_non_null(strstr(out, "invoice\xef\xbf\xbd" "fdp.exe"));
	pn_free(out);
}

/* 100,000 header fields, a NUL and a bare CR in some: 500 shown, a note. */
static void test_header_flood(void **state)
{
	pn_buf msg;
	char *out;
	int i;

	(void)state;
	pn_buf_init(&msg, 0);
	pn_buf_append(&msg, "X-Nul: a\0b\rc\r\n", 14);
	for (i = 0; i < 100000; i++)
		pn_buf_printf(&msg, "X-Flood-%d: <b onmouseover=alert(%d)>\r\n", i, i);
	pn_buf_puts(&msg, "\r\nbody\r\n");
	out = render(pn_buf_str(&msg), pn_buf_len(&msg), "1");
	assert_safe(out, "header flood");
	assert_non_null(strstr(out, "<dt>X-Flood-498</dt>"));
	assert_null(strstr(out, "<dt>X-Flood-499</dt>"));
	assert_non_null(strstr(out, "99501 more header fields not shown."));
	assert_non_null(strstr(out, "<pre class=\"text\">body\n</pre>"));
	pn_free(out);
	pn_buf_free(&msg);
}

/* The whole fragment has a cap, and stays well-formed when cut. */
static void test_output_cap(void **state)
{
	web_render_opts o;
	size_t len;
	char *msg = load("many-parts.eml", &len);
	pn_buf out;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.message_id_param = "1";
	o.max_output = 20000;
	pn_buf_init(&out, 0);
	assert_int_equal(web_render_message(&out, msg, len, &o), 0);
	assert_safe(pn_buf_str(&out), "capped");
	assert_true(pn_buf_len(&out) <= 20000);
	assert_non_null(strstr(pn_buf_str(&out), "id=\"output-truncated\""));
	assert_non_null(strstr(pn_buf_str(&out), "</ul>\n"));
	pn_buf_free(&out);
	pn_free(msg);
}

/* A forwarded message: listed as an attachment, downloaded whole. */
static void test_embedded_message(void **state)
{
	static const char inner[] =
		"From: inner@example.org\r\nSubject: the original\r\n\r\nOriginal body <script>x</script>\r\n";
	pn_buf msg;
	web_part p;
	char *out;

	(void)state;
	pn_buf_init(&msg, 0);
	pn_buf_puts(&msg, "Subject: fwd\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"O\"\r\n\r\n"
		    "--O\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
		    "--O\r\nContent-Type: multipart/alternative; boundary=\"I\"\r\n\r\n"
		    "--I\r\nContent-Type: text/plain\r\n\r\nalt\r\n--I--\r\n"
		    "--O\r\nContent-Type: message/rfc822\r\n"
		    "Content-Disposition: attachment; filename=\"original.eml\"\r\n\r\n");
	pn_buf_puts(&msg, inner);
	pn_buf_puts(&msg, "--O--\r\n");
	/* parts: 0 text, 1 alt text, 2 the message, 3 its body */
	assert_int_equal(web_message_part(pn_buf_str(&msg), pn_buf_len(&msg), 2, &p), 0);
	assert_string_equal(p.content_type, "message/rfc822");
	assert_string_equal(p.filename, "original.eml");
	/* as sent, less the line break that belongs to the next boundary */
	assert_int_equal(p.len, strlen(inner) - 2);
	assert_memory_equal(p.data, inner, p.len);
	web_part_free(&p);
	assert_int_equal(web_message_part(pn_buf_str(&msg), pn_buf_len(&msg), 3, &p), 0);
	assert_string_equal(p.data, "Original body <script>x</script>");
	web_part_free(&p);
	out = render(pn_buf_str(&msg), pn_buf_len(&msg), "9");
	assert_safe(out, "embedded");
	assert_non_null(strstr(out, "<a href=\"/message/part?id=9&amp;part=2\">original.eml</a>"));
	assert_non_null(strstr(out, "Original body &lt;script&gt;x&lt;/script&gt;"));
	pn_free(out);
	pn_buf_free(&msg);
}

/*
 * The "View HTML" document of every HTML part of the corpus: only allowed
 * tags and attributes, nothing that loads (the browser test found
 * Chromium preconnecting to a <link rel=preconnect> host under a CSP of
 * default-src 'none').
 */
static void assert_safe_doc(const char *doc, const char *what)
{
	static const char *const tags[] = {
		"html", "head", "meta", "title", "body", "a", "abbr", "b", "big", "blockquote", "br",
		"caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div",
		"dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd",
		"li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
		"sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
		"var", NULL
	};
	const char *p = doc;

	if (!pn_utf8_valid(doc, strlen(doc)))
		fail_msg("%s: not UTF-8", what);
	if (has_ci(doc, "<script") || has_ci(doc, "<link") || has_ci(doc, "<img")
	    || has_ci(doc, "<base") || has_ci(doc, "<svg") || has_ci(doc, "<iframe"))
		fail_msg("%s: a loading or running element", what);
	if (strncmp(doc, "<!DOCTYPE html>\n", 16) != 0)
		fail_msg("%s: no doctype", what);
	p = doc + 16;
	while ((p = strchr(p, '<')) != NULL) {
		const char *end = strchr(p, '>'), *q;
		size_t n, i;
		int ok = 0;

		if (end == NULL)
			fail_msg("%s: unterminated tag", what);
		p += p[1] == '/' ? 2 : 1;
		for (n = 0; isalnum((unsigned char)p[n]); n++)
			;
		for (i = 0; tags[i]; i++)
			ok |= strlen(tags[i]) == n && strncmp(tags[i], p, n) == 0;
		if (!ok)
			fail_msg("%s: tag <%.*s>", what, (int)n, p);
		/* attributes: name="escaped value", never one that loads or runs */
		for (q = p + n; q < end; q++)
			if (*q == ' ') {
				if (!strncasecmp(q + 1, "on", 2) || !strncasecmp(q + 1, "href", 4)
				    || !strncasecmp(q + 1, "src", 3) || !strncasecmp(q + 1, "background", 10)
				    || !strncasecmp(q + 1, "ping", 4) || !strncasecmp(q + 1, "http-equiv", 10))
					fail_msg("%s: attribute %.20s", what, q + 1);
				while (q < end && *q != '"')
					q++;
				if (q < end)
					q = strchr(q + 1, '"');
				if (q == NULL || q > end)
					fail_msg("%s: attribute value with a > or no end", what);
			}
		p = end;
	}
}

static void test_html_view_corpus(void **state)
{
	static const char *const files[] = { "script-html.eml", "html-only.eml", "remote-loads.eml",
					     "encoded-headers.eml", "deep-nesting.eml",
					     "broken-mime.eml", NULL };
	size_t i, len;
	int n, docs = 0;

	(void)state;
	for (i = 0; files[i]; i++) {
		char *msg = load(files[i], &len);
		web_part part;

		for (n = 0; n < 10 && web_message_part(msg, len, n, &part) == 0; n++) {
			if (strcmp(part.content_type, "text/html") == 0) {
				pn_buf doc;

				pn_buf_init(&doc, 0);
				web_html_sanitize(&doc, part.data, part.len, 0);
				assert_safe_doc(pn_buf_str(&doc), files[i]);
				assert_null(strstr(pn_buf_str(&doc), "preconnect"));
				if (strcmp(files[i], "script-html.eml") == 0) {
					assert_non_null(strstr(pn_buf_str(&doc), "<p>Hello <b>reader</b>, "
							       "this is the visible text.</p>"));
					assert_non_null(strstr(pn_buf_str(&doc), "<a>good link "
							       "[https://good.example/page?a=1&amp;b=2]</a>"));
					assert_non_null(strstr(pn_buf_str(&doc), "&lt;script&gt;alert("
							       "&#39;entity text&#39;)&lt;/script&gt;"));
				}
				if (strcmp(files[i], "remote-loads.eml") == 0) {
					assert_non_null(strstr(pn_buf_str(&doc), "<td>cell</td>"));
					assert_non_null(strstr(pn_buf_str(&doc), "<p>Remote loads everywhere.</p>"));
				}
				pn_buf_free(&doc);
				docs++;
			}
			web_part_free(&part);
		}
		pn_free(msg);
	}
	assert_true(docs >= 5);
}

static void test_html_sanitize_cases(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "<P ALIGN=center onclick=x()>a</P>", "<p align=\"center\">a</p>" },
		{ "<td style=\"color:red\">x</td>", "<td style=\"color:red\">x</td>" },
		{ "<td style=\"background:URL(http://e/x)\">x</td>", "<td>x</td>" },
		{ "<td style=\"x:expr&#x65;ssion(1)\">x</td>", "<td>x</td>" },
		{ "<font color='\"><script>'>t</font>", "<font color=\"&quot;&gt;&lt;script&gt;\">t</font>" },
		{ "<a href=\"javascript:x()\" onclick=y>go</a>", "<a>go [javascript:x()]</a>" },
		{ "<a href=\"#top\">up</a>", "<a>up</a>" },
		{ "<img src=http://e/p.gif alt=\"logo\">", "[image: logo]" },
		{ "<svg><a href=x>t</a></svg>after", "after" },
		{ "<textarea><b>x</b></textarea>y", "y" },
		{ "1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2" },
		{ "<br/><hr size=1>", "<br><hr size=\"1\">" },
		{ "<b", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_buf b;
		const char *body, *end;

		pn_buf_init(&b, 0);
		web_html_sanitize(&b, cases[i].in, strlen(cases[i].in), 0);
		body = strstr(pn_buf_str(&b), "<body>\n") + 7;
		end = strstr(body, "\n</body>");
		if ((size_t)(end - body) != strlen(cases[i].want) || strncmp(body, cases[i].want, (size_t)(end - body)))
			fail_msg("sanitize(%s) = [%.*s], want [%s]", cases[i].in, (int)(end - body), body,
				 cases[i].want);
		pn_buf_free(&b);
	}
}

/* web_html_to_text alone: the converter's own edge cases. */
static void test_html_to_text(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "a<b>b</b>c", "abc" },
		{ "<p>one</p><p>two</p>", "one\n\ntwo" },
		{ "x<br>y", "x\ny" },
		{ "<script>bad()</script>ok", "ok" },
		{ "<SCRIPT >bad()</SCRIPT >ok", "ok" },
		{ "<style>p{}</style>ok", "ok" },
		{ "<!-- c -->ok", "ok" },
		{ "<a href='http://x.example/'>x</a>", "x [http://x.example/]" },
		{ "<a href=\"http://same.example/\">http://same.example/</a>", "http://same.example/" },
		{ "<img src=\"http://t.example/p.gif\">", "" },
		{ "&amp;&lt;&gt;&quot;&#39;&#x41;&#65;&nbsp;&hellip;&bogus;", "&<>\"'AA\xc2\xa0\xe2\x80\xa6&bogus;" },
		{ "&#0;&#xd800;&#x110000;", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "unterminated <b", "unterminated" },
		{ "<title>t</title>body", "body" },
		{ "a   b\n\n\n\nc", "a b c" },
		{ "<pre>  keep\n  this</pre>", "  keep\n  this" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_buf b;

		pn_buf_init(&b, 0);
		web_html_to_text(&b, cases[i].in, strlen(cases[i].in), 0);
		if (strcmp(pn_buf_str(&b), cases[i].want) != 0)
			fail_msg("html_to_text(%s) = [%s], want [%s]", cases[i].in, pn_buf_str(&b),
				 cases[i].want);
		pn_buf_free(&b);
	}
}

static void test_esc(void **state)
{
	static const char in[] = "<a href=\"x\" title='y'>&\x00\x01\r\t\n\xc3\x28\xe2\x82\xac";
	pn_buf b;

	(void)state;
	pn_buf_init(&b, 0);
	web_esc_n(&b, in, sizeof(in) - 1);
	assert_string_equal(pn_buf_str(&b), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;\t\n"
			    "\xef\xbf\xbd(\xe2\x82\xac");
	pn_buf_reset(&b);
	web_esc(&b, NULL);
	web_esc(&b, "plain");
	assert_string_equal(pn_buf_str(&b), "plain");
	pn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esc),
		cmocka_unit_test(test_html_to_text),
		cmocka_unit_test(test_corpus_all_safe),
		cmocka_unit_test(test_html_tricks),
		cmocka_unit_test(test_encoded_headers),
		cmocka_unit_test(test_long_subject),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_deep_and_broken),
		cmocka_unit_test(test_hostile_id),
		cmocka_unit_test(test_part_decoding),
		cmocka_unit_test(test_embedded_message),
		cmocka_unit_test(test_header_flood),
		cmocka_unit_test(test_html_view_corpus),
		cmocka_unit_test(test_html_sanitize_cases),
		cmocka_unit_test(test_output_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
