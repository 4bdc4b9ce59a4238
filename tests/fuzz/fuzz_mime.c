/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_mime - libFuzzer target: the MIME walk, whole and chunked
 *
 * The input is a whole message. It is walked twice: body in one chunk,
 * and body in chunks of pseudo-random sizes derived from the input (as
 * a milter sees it, cut anywhere). Both walks must list the same parts,
 * and every string must be valid UTF-8 within its limits; anything else
 * aborts so that libFuzzer reports it. An input whose first byte is odd
 * is walked with keep_all_content (every part's content kept, bytes for
 * types other than text); one whose second bit is set with keep_headers
 * (multiparts listed, each part's header section kept), whose header
 * sections must also agree and stay within max_header_bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mime.h"
#include "common/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEXT_MAX 64

/* die - report a broken invariant */
static void die(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_mime: %s (part %zu)\n", what, i);
	abort();
}

/* walk - feed headers, then the body in chunks (0: one chunk) */
static pn_mime *walk(const uint8_t *data, size_t size, uint32_t seed, int keep_all,
		     int keep_headers)
{
	pn_mime_limits lim = {0};
	pn_mime *m;
	size_t off, i, n;

	lim.keep_text_max = TEXT_MAX;
	lim.max_depth = 8;
	lim.max_parts = 64;
	lim.max_header_bytes = 4096;
	lim.keep_all_content = keep_all;
	lim.keep_headers = keep_headers;
	m = pn_mime_new(&lim);
	off = pn_mime_feed_headers(m, data, size);
	for (i = off; i < size; i += n) {
		if (seed == 0) {
			n = size - i;
		} else {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			n = 1 + seed % (seed & 0x100 ? 3 : 97);
			if (n > size - i)
				n = size - i;
		}
		pn_mime_body(m, data + i, n);
	}
	pn_mime_finish(m);
	return m;
}

/* same - equal strings, NULL equal only to NULL */
static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* LLVMFuzzerTestOneInput - walk one message whole and chunked, compare */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2166136261u;
	pn_mime *whole, *split;
	size_t i;
	int keep_all = size > 0 && (data[0] & 1);
	int keep_headers = size > 0 && (data[0] & 2);

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	seed |= 1;
	whole = walk(data, size, 0, keep_all, keep_headers);
	split = walk(data, size, seed, keep_all, keep_headers);
	if (pn_mime_part_count(whole) != pn_mime_part_count(split))
		die("part count differs between whole and chunked", 0);
	if (pn_mime_truncated(whole) != pn_mime_truncated(split))
		die("truncated differs between whole and chunked", 0);
	if (pn_mime_part_count(whole) > 64)
		die("more parts than max_parts", 0);
	for (i = 0; i < pn_mime_part_count(whole); i++) {
		const pn_mime_part *p = pn_mime_part_get(whole, i);
		const pn_mime_part *q = pn_mime_part_get(split, i);

		if (strcmp(p->sha256, q->sha256) != 0 || p->size != q->size ||
		    p->depth != q->depth || !same(p->content_type, q->content_type) ||
		    !same(p->filename, q->filename) || !same(p->charset, q->charset) ||
		    (p->text == NULL) != (q->text == NULL) || p->text_len != q->text_len ||
		    (p->text && memcmp(p->text, q->text, p->text_len) != 0) ||
		    p->is_attachment != q->is_attachment)
			die("part differs between whole and chunked", i);
		if (p->depth > 8)
			die("deeper than max_depth", i);
		if (p->is_multipart != q->is_multipart || (p->header == NULL) != (q->header == NULL)
		    || p->header_len != q->header_len
		    || (p->header && memcmp(p->header, q->header, p->header_len) != 0))
			die("part header differs between whole and chunked", i);
		if ((p->header || p->is_multipart) && !keep_headers)
			die("header kept without keep_headers", i);
		if (p->header && p->header_len > 4096)
			die("header section over max_header_bytes", i);
		if (p->filename && !pn_utf8_valid(p->filename, strlen(p->filename)))
			die("filename is not valid UTF-8", i);
		if (p->charset && !pn_utf8_valid(p->charset, strlen(p->charset)))
			die("charset is not valid UTF-8", i);
		if (p->text && p->text_len > TEXT_MAX)
			die("kept content over the limit", i);
		if (p->text && !p->is_container && strncmp(p->content_type, "text/", 5) == 0 &&
		    (p->text_len != strlen(p->text) || !pn_utf8_valid(p->text, p->text_len)))
			die("bad kept text", i);
		if (p->text && !keep_all && (p->is_container || strncmp(p->content_type, "text/", 5) != 0))
			die("content kept without keep_all_content", i);
	}
	pn_mime_free(whole);
	pn_mime_free(split);
	return 0;
}
