/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	meta - what the index shows of a message, read from its raw bytes
 * SYNOPSIS
 *	#include "milters/archive/meta.h"
 *
 *	arc_meta *arc_meta_new(size_t text_max);
 *	void arc_meta_feed(arc_meta *m, const void *data, size_t len);
 *	void arc_meta_finish(arc_meta *m);
 *	void arc_meta_fill(const arc_meta *m, arc_delivery *d);
 *	const char *arc_meta_text(const arc_meta *m, size_t *len);
 *	void arc_meta_free(arc_meta *m);
 * DESCRIPTION
 *	An arc_meta reads one message as the archive stores it (header
 *	block, blank line, body; CRLF or LF line ends) in chunks cut
 *	anywhere, and extracts the fields the index keeps: From, To, Cc and
 *	Subject with RFC 2047 encoded-words decoded to UTF-8, Message-ID
 *	and Date unfolded, the names of attachments (RFC 2231/2047 decoded)
 *	and, when text_max is not 0, up to text_max bytes of the text of
 *	its text/plain parts (text/html with tags removed when the message
 *	has no text/plain part) for the full-text index.
 *
 *	The daemon feeds the message while it hashes it, and the reindex
 *	and verify tools feed the stored object, through this one parser, so
 *	an index rebuilt from the objects says what the daemon's index said.
 *
 *	The first From, Subject, Message-ID and Date count; every To and Cc
 *	field is kept, joined by ", ". Each field is cut to ARC_META_FIELD_MAX
 *	bytes at a character boundary, control characters become spaces. A
 *	header section beyond ARC_META_HEADER_MAX bytes is skipped (its end
 *	is still found). MIME limits are those of common/mime.h.
 *
 *	arc_meta_fill() replaces the header fields and attachment list of d.
 *	arc_meta_text() is the extracted text (NUL-terminated, valid UTF-8),
 *	"" when none was kept. Both are meaningful after arc_meta_finish();
 *	feeding after finish is ignored.
 * DIAGNOSTICS
 *	None: any input gives a result.
 */
#ifndef ARC_META_H
#define ARC_META_H

#include <stddef.h>

#include "milters/archive/record.h"

#define ARC_META_FIELD_MAX ((size_t)64 * 1024)
#define ARC_META_HEADER_MAX ((size_t)1024 * 1024)

typedef struct arc_meta arc_meta;

arc_meta *arc_meta_new(size_t text_max);
void arc_meta_feed(arc_meta *m, const void *data, size_t len);
void arc_meta_finish(arc_meta *m);
void arc_meta_fill(const arc_meta *m, arc_delivery *d);
const char *arc_meta_text(const arc_meta *m, size_t *len);
void arc_meta_free(arc_meta *m);

#endif
