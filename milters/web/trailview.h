/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	trailview - a message's audit records and whether the chain holds
 * SYNOPSIS
 *	#include "milters/web/trailview.h"
 *
 *	int web_trail_for_message(pn_buf *out, char **trail_files,
 *	                          size_t nfiles, const char *queue_id,
 *	                          const char *message_id,
 *	                          const web_trail_opts *o, char **err);
 * DESCRIPTION
 *	Reads the audit trail files (oldest first: rotated files, then the
 *	current one; compressed ones too, milters/audit/reader.h) in ONE
 *	pass, and for every line both
 *	  - feeds the chain verifier (milters/audit/verify.h,
 *	    audit_verifier_*: the same checks as `postern-audit verify`,
 *	    with o->verify's keys, head and trail id), and
 *	  - keeps the record when it is about the message: its
 *	    headers.message_id is message_id (compared without angle
 *	    brackets), or its queue_id is queue_id and it names no other
 *	    Message-ID (Postfix reuses short queue ids: a message record of
 *	    another message with the same queue id is not this message's;
 *	    a record without one, such as a refusal before DATA, is).
 *	    Either argument may be NULL or "".
 *
 *	It appends to out:
 *	  <table id="audit-records"> a header row, then one
 *	    <tr class="record"> per matching record: seq, time (ts), event
 *	    type, verdict (the refusal's verdict, else the tls engine's, else
 *	    "accepted" for a message record), client (ip, name), TLS
 *	    (version, cipher, "verified" when the client certificate was),
 *	    recipients; every value escaped (esc.h);
 *	  <p id="chain-status"> whose text starts with
 *	    "verified" then what `postern-audit verify` printed (intact,
 *	    count, range, macs checked), or
 *	    "FAILED" then the verifier's problem ("FILE:LINE: what"), or
 *	    "FAILED" then why a file could not be read.
 *
 *	Bounds, and why: a page must answer in seconds even on a large
 *	trail, and the whole trail has to be read anyway to find a
 *	message's records, so verifying in the same pass costs one SHA-256
 *	and one JSON parse per line and no second read. The pass stops
 *	after o->max_lines lines (0: WEB_TRAIL_MAX_LINES, 2,000,000, a few
 *	seconds) and then says so: chain-status is "not verified: the
 *	trail has more than N lines; run postern-audit verify" (neither
 *	"verified" nor "FAILED": nothing wrong was found, nothing proven),
 *	and the record table notes that later records were not searched.
 *	At most o->max_records (0: WEB_TRAIL_MAX_RECORDS, 1000) records are
 *	shown. Lines are matched by a substring test before any JSON is
 *	parsed for display.
 * DIAGNOSTICS
 *	0 when the page was written, whatever the chain status; -1 with
 *	*err (pn_free) when out is full or the arguments are wrong (no
 *	file, neither queue_id nor message_id).
 */
#ifndef WEB_TRAILVIEW_H
#define WEB_TRAILVIEW_H

#include <stddef.h>

#include "common/buf.h"
#include "milters/audit/verify.h"

#define WEB_TRAIL_MAX_LINES 2000000UL
#define WEB_TRAIL_MAX_RECORDS 1000

typedef struct web_trail_opts {
	const audit_verify_opts *verify;	/* keys, checkpoint, trail id; NULL: hash chain only */
	unsigned long max_lines;		/* 0 = WEB_TRAIL_MAX_LINES */
	size_t max_records;			/* 0 = WEB_TRAIL_MAX_RECORDS */
} web_trail_opts;

int web_trail_for_message(pn_buf *out, char **trail_files, size_t nfiles, const char *queue_id,
			  const char *message_id, const web_trail_opts *o, char **err);

#endif
