/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_body - the message body as the body test sees it (RFC 5173)
 *
 * Built once per message, on the first body test, and shared by the runs
 * for every recipient: the raw body (at most max_bytes) and the MIME
 * parts with their decoded content: text converted to UTF-8, other
 * types as decoded bytes, an embedded message as sent. The multipart
 * containers are listed too, each part with its header section, for
 * foreverypart and :mime (sieve_ext_mime.c); the body test skips them.
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <string.h>

struct sv_body {
	int loaded;
	int failed;
	char *raw;
	size_t rawlen;
	pn_mime *mime;
};

/* sv_body_new - an empty cache */
sv_body *sv_body_new(void)
{
	return pn_calloc(1, sizeof(sv_body));
}

/* sv_body_free - release the cache */
void sv_body_free(sv_body *b)
{
	if (b == NULL)
		return;
	pn_free(b->raw);
	pn_mime_free(b->mime);
	pn_free(b);
}

/* sv_body_load - read and walk the body once; -1 when it cannot be read */
int sv_body_load(sv_body *b, const pn_msg *m, size_t max_bytes)
{
	pn_mime_limits lim;
	pn_buf raw;
	char chunk[16384];
	long n;
	size_t i;

	if (b->loaded)
		return b->failed ? -1 : 0;
	b->loaded = 1;
	memset(&lim, 0, sizeof(lim));
	lim.keep_text_max = max_bytes ? max_bytes : 1;
	lim.keep_text_total = max_bytes ? max_bytes : 1;
	lim.keep_all_content = 1;	/* body :content "application/pdf" (RFC 5173 5.2) */
	lim.keep_headers = 1;		/* foreverypart, :mime (sieve_ext_mime.c) */
	b->mime = pn_mime_new(&lim);
	for (i = 0; i < m->nheaders; i++)
		pn_mime_header(b->mime, m->headers[i].name, m->headers[i].value);
	pn_buf_init(&raw, 0);
	if (m->body && pn_spool_rewind(m->body) == 0) {
		size_t total = 0;
		while ((n = pn_spool_read(m->body, chunk, sizeof(chunk))) > 0) {
			size_t take = (size_t)n;
			if (total + take > max_bytes)
				take = max_bytes - total;
			if (take) {
				pn_buf_append(&raw, chunk, take);
				pn_mime_body(b->mime, chunk, take);
			}
			total += take;
			if (total >= max_bytes)
				break;
		}
		if (n < 0)
			b->failed = 1;
	} else if (m->body) {
		b->failed = 1;
	}
	pn_mime_finish(b->mime);
	b->raw = pn_buf_steal(&raw, &b->rawlen);
	return b->failed ? -1 : 0;
}

/* sv_body_raw - the undecoded body (CRLF line ends), possibly cut */
const char *sv_body_raw(const sv_body *b, size_t *len)
{
	*len = b->rawlen;
	return b->raw ? b->raw : "";
}

/* sv_body_part_count - MIME parts found */
size_t sv_body_part_count(const sv_body *b)
{
	return b->mime ? pn_mime_part_count(b->mime) : 0;
}

/* sv_body_part - one part */
const pn_mime_part *sv_body_part(const sv_body *b, size_t i)
{
	return pn_mime_part_get(b->mime, i);
}
