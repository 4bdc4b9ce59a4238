/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	mime - streaming MIME walk: parts, filenames, sizes and digests
 * SYNOPSIS
 *	#include "common/mime.h"
 *
 *	pn_mime *pn_mime_new(const pn_mime_limits *limits);
 *	void pn_mime_header(pn_mime *m, const char *name, const char *value);
 *	void pn_mime_body(pn_mime *m, const void *chunk, size_t len);
 *	void pn_mime_finish(pn_mime *m);
 *	void pn_mime_free(pn_mime *m);
 *
 *	size_t pn_mime_part_count(const pn_mime *m);
 *	const pn_mime_part *pn_mime_part_get(const pn_mime *m, size_t i);
 *	int pn_mime_truncated(const pn_mime *m);
 *	unsigned long long pn_mime_body_bytes(const pn_mime *m);
 *
 *	size_t pn_mime_feed_headers(pn_mime *m, const void *msg, size_t len);
 *	pn_mime *pn_mime_parse_message(const void *msg, size_t len);
 *
 *	char *pn_mime_value_type(const char *value, int content_type);
 *	size_t pn_mime_value_params(const char *value, const char *name, char ***out);
 * DESCRIPTION
 *	A milter sees a message as top-level headers, one call each, then
 *	the body in chunks cut anywhere, even inside a line. A pn_mime
 *	consumes exactly that, keeps only a bounded amount of state, and
 *	produces the list of parts a policy needs: what each is, what it is
 *	called, how big it is once decoded, and its SHA-256.
 *
 *	Feed pn_mime_header() with each top-level header (folded values
 *	are fine; only Content-Type, Content-Transfer-Encoding and
 *	Content-Disposition matter, the first of each wins), then
 *	pn_mime_body() with the body chunks (CRLF line endings, as a milter
 *	gets them; bare LF is accepted too), then pn_mime_finish() once.
 *	Calls after pn_mime_finish() are ignored. Read the parts after
 *	pn_mime_finish(); they stay valid until pn_mime_free().
 *
 *	The walk descends into every multipart type (nested, preamble and
 *	epilogue skipped, a missing final boundary tolerated, trailing
 *	whitespace on boundary lines allowed, a delimiter line after the
 *	closing one starting a new part as lenient mail readers do) and into
 *	message/rfc822 and message/global whose encoding is 7bit, 8bit or
 *	binary. The list holds, in document order, every leaf part and
 *	every such message/rfc822 part (is_container set, size and digest
 *	of the embedded message as sent), followed by the parts inside it.
 *	Multipart containers themselves are not listed. A message/rfc822
 *	part sent in base64 or quoted-printable is a leaf.
 *
 *	For each listed part: content_type is the lower-case type/subtype
 *	(text/plain when absent or malformed, message/rfc822 inside
 *	multipart/digest); charset the lower-case charset parameter or
 *	NULL; encoding the lower-case Content-Transfer-Encoding or "7bit";
 *	disposition "inline", "attachment" or NULL when absent (an unknown
 *	disposition type reads as "attachment", as RFC 2183 asks); filename
 *	from Content-Disposition filename= or else Content-Type name=,
 *	RFC 2231 charset and continuations and RFC 2047 encoded-words
 *	decoded, always valid UTF-8, or NULL; depth 0 for the message
 *	itself, +1 for each multipart or message/rfc822 around the part;
 *	size and sha256 (lower-case hex) of the decoded content (base64
 *	and quoted-printable decoded, anything else taken as it is; the
 *	line break before a boundary belongs to the boundary); raw_size
 *	the number of content bytes as sent, before that decoding;
 *	is_attachment when the disposition is attachment or there is a
 *	filename.
 *
 *	When limits->keep_text_max is not 0, text/plain and text/html parts
 *	also keep their decoded text converted from their charset to UTF-8
 *	(see pn_charset_to_utf8(); an unknown charset is read as UTF-8 with
 *	invalid bytes replaced): at most keep_text_max bytes per part, cut
 *	at a character boundary, and at most keep_text_total raw bytes for
 *	the whole message. text_truncated tells that some text was left
 *	out. text is NUL-terminated and contains no NUL.
 *
 *	With limits->keep_all_content also set, the same limits keep the
 *	decoded content of every listed part (for a body search such as
 *	Sieve's body :content): every part of type text as UTF-8 as above, any
 *	other type as its decoded bytes (NUL-terminated, but it may contain
 *	NUL: use text_len), and of a message/rfc822 container the header
 *	section of the embedded message (lines ending in LF, the lines that
 *	are not header fields left out).
 *
 *	With limits->keep_headers set (Sieve's foreverypart and :mime), the
 *	list also holds every multipart container (is_multipart set, before
 *	its children, no size or digest), so that the parts inside part i are
 *	the parts after it with a greater depth; and each listed part but the
 *	top-level message (whose fields came through pn_mime_header()) keeps
 *	its header section in header (header_len bytes, lines ending in LF,
 *	folded lines as sent; NULL when it was over max_header_bytes).
 *
 *	pn_mime_value_type() reads a header value as the walk does: with
 *	content_type set the lower-case "type/subtype" of a Content-Type
 *	value (NULL when malformed), else the lower-case first token (the
 *	disposition type of a Content-Disposition). pn_mime_value_params()
 *	sets *out to the values of the named parameter of such a value,
 *	decoded exactly as the walk decodes filenames (RFC 2231 charsets and
 *	continuations, RFC 2047 words, UTF-8): first the one the walk takes
 *	(the filename it records), then every other occurrence of the name
 *	(senders repeat a parameter so that readers disagree), each value
 *	once; it returns their number, 0 (and *out NULL) when absent. Free
 *	each string and *out, and pn_mime_value_type()'s result, with
 *	pn_free().
 *
 *	Limits (0 in a field, or a NULL limits, means the default): parts
 *	nested deeper than max_depth (20) are not split further but kept
 *	whole as one leaf; after max_parts (1000) listed parts the walk
 *	stops and the rest of the body is only counted; a part's header
 *	section beyond max_header_bytes (65536) is skipped. Each of these
 *	sets the flag pn_mime_truncated() returns. pn_mime_body_bytes() is
 *	the number of body bytes fed.
 *
 *	pn_mime_feed_headers() reads the header section of a whole RFC 5322
 *	message (folded lines, LF or CRLF), calls pn_mime_header() for each
 *	field and returns the offset where the body starts; lines that are
 *	not header fields (an mbox "From " line) are skipped.
 *	pn_mime_parse_message() does that, feeds the body as one chunk and
 *	finishes: for tests and offline tools. The body bytes are used as
 *	they are, so a message with LF line endings gives LF in the decoded
 *	content of 7bit parts.
 * DIAGNOSTICS
 *	None: any input gives a result. Damaged input is decoded as far as
 *	it goes (broken base64 characters skipped, broken quoted-printable
 *	escapes kept literally).
 * SEE ALSO
 *	rfc2047(3) for the charset conversions.
 */
#ifndef PN_MIME_H
#define PN_MIME_H

#include <stddef.h>

#include "common/crypto.h"

#define PN_MIME_MAX_DEPTH 20
#define PN_MIME_MAX_PARTS 1000
#define PN_MIME_MAX_HEADER_BYTES ((size_t)64 * 1024)

typedef struct pn_mime_limits {
	unsigned max_depth;		/* 0 = PN_MIME_MAX_DEPTH */
	size_t max_parts;		/* 0 = PN_MIME_MAX_PARTS */
	size_t max_header_bytes;	/* per part, 0 = PN_MIME_MAX_HEADER_BYTES */
	size_t keep_text_max;		/* per part, 0 = keep no text */
	size_t keep_text_total;		/* per message, 0 = 4 * keep_text_max */
	int keep_all_content;		/* keep every part's content, not only text */
	int keep_headers;		/* list multiparts too; keep each part's header */
} pn_mime_limits;

typedef struct pn_mime_part {
	char *content_type;
	char *charset;
	char *encoding;
	const char *disposition;
	char *filename;
	unsigned depth;
	int is_attachment;
	int is_container;
	unsigned long long size;
	unsigned long long raw_size;	/* content as sent, before decoding */
	char sha256[PN_SHA256_HEX_LEN + 1];
	char *text;
	size_t text_len;
	int text_truncated;
	int is_multipart;		/* keep_headers: a multipart container */
	char *header;			/* keep_headers: its header section, or NULL */
	size_t header_len;
} pn_mime_part;

typedef struct pn_mime pn_mime;

pn_mime *pn_mime_new(const pn_mime_limits *limits);
void pn_mime_header(pn_mime *m, const char *name, const char *value);
void pn_mime_body(pn_mime *m, const void *chunk, size_t len);
void pn_mime_finish(pn_mime *m);
void pn_mime_free(pn_mime *m);
size_t pn_mime_part_count(const pn_mime *m);
const pn_mime_part *pn_mime_part_get(const pn_mime *m, size_t i);
int pn_mime_truncated(const pn_mime *m);
unsigned long long pn_mime_body_bytes(const pn_mime *m);
size_t pn_mime_feed_headers(pn_mime *m, const void *msg, size_t len);
pn_mime *pn_mime_parse_message(const void *msg, size_t len);
char *pn_mime_value_type(const char *value, int content_type);
size_t pn_mime_value_params(const char *value, const char *name, char ***out);

#endif
