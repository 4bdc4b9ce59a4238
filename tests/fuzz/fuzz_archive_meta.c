/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_archive_meta - libFuzzer target: the archive index's header extraction
 *
 * The input is a whole message as the archive stores it. It is parsed
 * twice: in one chunk, and in chunks of sizes derived from the input (the
 * daemon feeds it in 64 KB chunks, reindex in whatever zstd hands over).
 * Both parses must give the same fields, every field and the text must be
 * valid UTF-8 without control characters and within its limits; anything
 * else aborts so that libFuzzer reports it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/mime.h"
#include "common/rfc2047.h"
#include "milters/archive/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEXT_MAX 256

/* die - report a broken invariant */
static void die(const char *what, const char *value)
{
	fprintf(stderr, "fuzz_archive_meta: %s: \"%s\"\n", what, value);
	abort();
}

/* check_field - valid UTF-8, no control characters, bounded */
static void check_field(const char *what, const char *s)
{
	size_t i, n = strlen(s);

	if (!pn_utf8_valid(s, n) || n > ARC_META_FIELD_MAX)
		die(what, s);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			die(what, s);
}

/* parse - the fields of data fed in chunks (0: one chunk) */
static arc_delivery *parse(const uint8_t *data, size_t size, uint32_t seed, char **text)
{
	arc_meta *m = arc_meta_new(TEXT_MAX);
	arc_delivery *d = arc_delivery_new();
	size_t off = 0;
	const char *t;
	size_t tlen;

	while (off < size) {
		size_t n = size - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 97;
			if (n > size - off)
				n = size - off;
		}
		arc_meta_feed(m, data + off, n);
		off += n;
	}
	arc_meta_finish(m);
	arc_meta_feed(m, "ignored", 7);	/* after finish: no effect */
	arc_meta_fill(m, d);
	t = arc_meta_text(m, &tlen);
	if (tlen > TEXT_MAX || strlen(t) != tlen || !pn_utf8_valid(t, tlen))
		die("text", t);
	*text = strdup(t);
	arc_meta_free(m);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t1, *t2;
	arc_delivery *a = parse(data, size, 0, &t1);
	arc_delivery *b = parse(data, size, size ? 1u + data[0] : 1u, &t2);
	const char *fa[] = {a->hdr_from, a->hdr_to, a->hdr_cc, a->subject, a->message_id,
			    a->hdr_date};
	const char *fb[] = {b->hdr_from, b->hdr_to, b->hdr_cc, b->subject, b->message_id,
			    b->hdr_date};
	size_t i;

	for (i = 0; i < 6; i++) {
		check_field("field", fa[i]);
		if (strcmp(fa[i], fb[i]) != 0)
			die("chunking changed a field", fb[i]);
	}
	if (a->nattachments != b->nattachments)
		die("chunking changed the attachments", "");
	for (i = 0; i < a->nattachments; i++) {
		check_field("attachment", a->attachments[i]);
		if (strcmp(a->attachments[i], b->attachments[i]) != 0)
			die("chunking changed an attachment name", b->attachments[i]);
	}
	if (strcmp(t1, t2) != 0)
		die("chunking changed the text", t2);
	free(t1);
	free(t2);
	arc_delivery_free(a);
	arc_delivery_free(b);
	return 0;
}
