/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	render - an archived message as safe HTML, and one part's content
 * SYNOPSIS
 *	#include "milters/web/render.h"
 *
 *	int web_render_message(pn_buf *out, const char *msg, size_t len,
 *	                       const web_render_opts *o);
 *	int web_message_part(const char *msg, size_t len, int part,
 *	                     web_part *out);
 *	void web_part_free(web_part *p);
 *	void web_html_to_text(pn_buf *out, const char *html, size_t len,
 *	                      size_t max);
 *	void web_html_sanitize(pn_buf *out, const char *html, size_t len,
 *	                       size_t max);
 * DESCRIPTION
 *	Pure functions of the message bytes (RFC 5322, LF or CRLF): no
 *	web_app, no HTTP. The message page (h-webcore) calls
 *	web_render_message() and wraps the fragment in its layout; the
 *	part downloads and the sandboxed HTML view call web_message_part().
 *
 *	web_render_message() appends to out:
 *
 *	  <section id="headers"> a <dl> of every header field in order,
 *	    unfolded, RFC 2047 decoded to UTF-8 (rfc2047.h), escaped;
 *	  <section id="body"> each text/plain part as escaped <pre>, each
 *	    text/html part as sanitised text in <pre class="html-text">
 *	    (see web_html_to_text) followed by a link "View HTML" to
 *	    /message/html?id=ID&amp;part=N, and for the first HTML part
 *	    only (each frame is a request and an access record) an
 *	    <iframe sandbox="" src="/message/html?id=ID&amp;part=N">;
 *	  <ul id="attachments"> one <li class="attachment"> per attachment
 *	    part (mime.h: disposition attachment or a filename) and per
 *	    other leaf that is not text/plain or text/html: the filename
 *	    (bidirectional control characters shown as U+FFFD, so
 *	    "invoice<RLO>fdp.exe" cannot pass for a .pdf), content type and
 *	    decoded size, and a link /message/part?id=ID&amp;part=N.
 *
 *	Text parts that are attachments are listed, not shown. ID is
 *	o->message_id_param, URL-encoded. Part numbers N are the index of
 *	the part in the MIME walk of common/mime.c (pn_mime_parse_message,
 *	from 0 in document order, leaves and message/rfc822 parts), the
 *	walk the archive and the audit records use ("mime.parts[].index"),
 *	so a part number and a filename mean the same everywhere;
 *	web_message_part() uses the same walk.
 *
 *	The only markup in the output is the renderer's own: every byte
 *	from the message goes through web_esc() (esc.h). Nothing in the
 *	output loads anything but the same-origin iframe.
 *
 *	Caps (bounded work on hostile input; 0 in an opts field means the
 *	default): at most o->max_headers (500) header fields are shown,
 *	each value cut at o->max_header (4096 bytes) with a note "[cut:
 *	N bytes]"; the MIME walk stops at 1000 parts and nesting deeper
 *	than 20 is kept whole (mime.h), with a note; each text part shows
 *	at most o->max_text (256 KiB) of text and the body at most 4 times
 *	that in all; the attachment list at most o->max_attachments (1000)
 *	entries; the whole fragment at most o->max_output (8 MiB), after
 *	which a note says the rest was left out. Long words in headers
 *	wrap (CSS in app.css: pre and dd wrap anywhere).
 *
 *	web_message_part() returns the decoded content (base64 and
 *	quoted-printable decoded) of part N: content_type the lower-case
 *	type/subtype, filename the decoded filename or NULL. A text
 *	part is returned converted from its charset to UTF-8 (charset
 *	"utf-8" then); other parts are the decoded bytes as they are
 *	(charset NULL). A message/rfc822 part is the embedded message as
 *	sent, header and body (found by a second walk that keeps it whole).
 *	data is NUL-terminated (it may also hold NULs: use len). A part
 *	is returned whole up to WEB_PART_MAX (64 MiB decoded), cut beyond
 *	(truncated set).
 *
 *	web_html_to_text() appends (raw UTF-8, NOT escaped: pass it to
 *	web_esc) the readable text of an HTML document: tags removed,
 *	script, style, head, title, template and comments dropped with
 *	their content, block elements turned into line breaks, character
 *	references decoded (&lt;script&gt; becomes the text "<script>",
 *	which web_esc then escapes again), each link written as
 *	"label [url]", each image as "[image: alt]" (its src never
 *	written), at most max bytes (0: no limit).
 *
 *	web_html_sanitize() appends a whole HTML document for the "View
 *	HTML" page (/message/html, served with a sandbox CSP inside a
 *	sandboxed frame): the part's formatting rebuilt from a list of
 *	allowed elements (paragraphs, headings, lists, tables, emphasis,
 *	font, pre...) and attributes (alignment, sizes, colours, dir, lang,
 *	title, and style when it holds no url, expression, @import, escape
 *	or image), names lower-cased, every value and all text escaped.
 *	Everything else is dropped: script, style, svg, math, iframe,
 *	object, textarea, noscript and the like with their content; other
 *	tags (link, meta, base, img, form, input, video...) and every other
 *	attribute (on..., src, srcset, background, ping...) without it. A
 *	link keeps its text and shows its target as text, "label [url]",
 *	with no href; an image is "[image: alt]". The CSP alone is not
 *	enough: Chromium still opens connections for <link rel=preconnect>
 *	under "default-src 'none'" (the browser test saw it), so nothing of
 *	the kind reaches the browser. At most about max bytes of body
 *	(0: no limit).
 * DIAGNOSTICS
 *	web_render_message() returns 0, or -1 when out is full (what was
 *	written is still well-formed up to the cut). web_message_part()
 *	returns 0, or -1 when the message has no part N (out is zeroed).
 */
#ifndef WEB_RENDER_H
#define WEB_RENDER_H

#include <stddef.h>

#include "common/buf.h"

#define WEB_RENDER_MAX_HEADERS 500
#define WEB_RENDER_MAX_HEADER ((size_t)4096)
#define WEB_RENDER_MAX_TEXT ((size_t)256 * 1024)
#define WEB_RENDER_MAX_ATTACHMENTS 1000
#define WEB_RENDER_MAX_OUTPUT ((size_t)8 * 1024 * 1024)
#define WEB_PART_MAX ((size_t)64 * 1024 * 1024)

typedef struct web_render_opts {
	const char *message_id_param;	/* the archive ID used in links */
	size_t max_text;		/* per text part, 0 = WEB_RENDER_MAX_TEXT */
	size_t max_header;		/* per header value, 0 = WEB_RENDER_MAX_HEADER */
	size_t max_headers;		/* header fields, 0 = WEB_RENDER_MAX_HEADERS */
	size_t max_attachments;		/* listed, 0 = WEB_RENDER_MAX_ATTACHMENTS */
	size_t max_output;		/* whole fragment, 0 = WEB_RENDER_MAX_OUTPUT */
} web_render_opts;

typedef struct web_part {
	char *content_type;		/* lower-case type/subtype */
	char *charset;			/* "utf-8" for text parts, else NULL */
	char *filename;			/* decoded UTF-8, or NULL */
	char *data;			/* decoded content, NUL-terminated */
	size_t len;
	int truncated;			/* cut at WEB_PART_MAX */
} web_part;

int web_render_message(pn_buf *out, const char *msg, size_t len, const web_render_opts *o);
int web_message_part(const char *msg, size_t len, int part, web_part *out);
void web_part_free(web_part *p);
void web_html_to_text(pn_buf *out, const char *html, size_t len, size_t max);
void web_html_sanitize(pn_buf *out, const char *html, size_t len, size_t max);

#endif
