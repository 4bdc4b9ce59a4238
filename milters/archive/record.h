/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	record - the archive's records: deliveries, objects and their JSON
 * SYNOPSIS
 *	#include "milters/archive/record.h"
 *
 *	arc_delivery *arc_delivery_new(void);
 *	void arc_delivery_add_rcpt(arc_delivery *d, const char *addr);
 *	void arc_delivery_add_attachment(arc_delivery *d, const char *name);
 *	void arc_delivery_free(arc_delivery *d);
 *
 *	char *arc_new_id(time_t when);
 *	int  arc_is_sha256(const char *s);
 *	int  arc_is_id(const char *s);
 *	char *arc_clean(const char *s);
 *
 *	char *arc_record_json(const arc_record *r);
 *	char *arc_delivery_json(const arc_delivery *d, const arc_json_extra *extra,
 *	                        size_t n);
 *	int  arc_record_parse(const char *line, size_t len, arc_record *r);
 *	void arc_record_clear(arc_record *r);
 *	void arc_format_time(long long t, char out[ARC_TIME_LEN]);
 * DESCRIPTION
 *	A delivery is one message accepted for one envelope: the time, the
 *	queue id, the client, the envelope sender and every recipient (Bcc
 *	included), the headers an index shows (From, To, Cc, Subject decoded
 *	to UTF-8, Message-ID, Date), the size, the attachment names and the
 *	SHA-256 of the stored message (the object). An object is one stored
 *	message file; identical messages share one object.
 *
 *	Records are what the journal holds, one JSON object per line (see
 *	postern-archive.conf(5) for every field): "object", "delivery",
 *	"void" (a delivery that was journaled but then answered with a
 *	temporary failure), "hold" and "release" (legal hold on and off for
 *	a list of delivery ids). arc_record_json() renders a record as one
 *	line of JSON without the newline; arc_record_parse() reads one back.
 *	Unknown fields are ignored so that later versions can add some.
 *	arc_delivery_json() renders a delivery's fields alone (no "type"),
 *	followed by n extra fields (search --json, export's delivery list).
 *
 *	arc_new_id() makes a delivery id "YYYYMMDDhhmmss-xxxxxxxx" (UTC time
 *	and 32 random bits): sortable by time, short enough to type.
 *	arc_is_sha256() tells whether s is 64 lower-case hex digits, and
 *	arc_is_id() whether it has the form of a delivery id; records whose
 *	id or SHA-256 do not are refused, so no path is ever built from
 *	anything else.
 *	arc_clean() copies a string from mail (envelope, client name) as
 *	valid UTF-8 with control characters replaced by '?', so that no
 *	record, index row or log line can be forged through it.
 *	arc_format_time() writes "2025-01-31T12:00:00Z" (UTC).
 * DIAGNOSTICS
 *	arc_record_parse() returns 0, or -1 for a line that is not a record
 *	(bad JSON, unknown type, missing field); r is then cleared.
 */
#ifndef ARC_RECORD_H
#define ARC_RECORD_H

#include <stddef.h>
#include <time.h>

#define ARC_ID_LEN 23		/* "20250131120000-0123abcd" */
#define ARC_TIME_LEN 21		/* "2025-01-31T12:00:00Z" + NUL */

typedef struct arc_delivery {
	char *id;
	long long time;		/* seconds since the epoch, UTC */
	char *queue_id;		/* "" when the MTA did not tell */
	char *sha256;		/* object: SHA-256 of the message, hex */
	char *mta;		/* the MTA's host name (macro j) */
	char *client_addr;
	char *client_name;
	char *helo;
	char *auth;		/* SASL login ({auth_authen}), "" if none */
	char *direction;	/* "inbound" or "outbound" */
	char *sender;		/* envelope sender without brackets, "" = <> */
	char **rcpts;
	size_t nrcpts, rcpt_cap;
	char *hdr_from, *hdr_to, *hdr_cc, *subject, *message_id, *hdr_date;
	unsigned long long size;	/* bytes of the message */
	unsigned long long stored_size;	/* bytes of its object file */
	char **attachments;
	size_t nattachments, attachment_cap;
} arc_delivery;

typedef struct arc_object {
	char sha256[65];
	char stored_sha256[65];	/* SHA-256 of the file as stored */
	unsigned long long size, stored_size;
	int encrypted;
	long long time;
} arc_object;

typedef enum {
	ARC_REC_OBJECT = 1,
	ARC_REC_DELIVERY,
	ARC_REC_VOID,
	ARC_REC_HOLD,
	ARC_REC_RELEASE
} arc_record_type;

typedef struct arc_record {
	arc_record_type type;
	arc_object object;		/* OBJECT */
	arc_delivery *delivery;		/* DELIVERY */
	char *id;			/* VOID: the delivery voided */
	char **ids;			/* HOLD, RELEASE */
	size_t nids;
	char *reason;			/* VOID, HOLD */
	char *user;			/* HOLD, RELEASE */
	long long time;			/* VOID, HOLD, RELEASE: seconds */
	long long usec;			/* HOLD, RELEASE: microseconds (orders events) */
} arc_record;

arc_delivery *arc_delivery_new(void);
void arc_delivery_add_rcpt(arc_delivery *d, const char *addr);
void arc_delivery_add_attachment(arc_delivery *d, const char *name);
void arc_delivery_free(arc_delivery *d);

char *arc_new_id(time_t when);
int arc_is_sha256(const char *s);
int arc_is_id(const char *s);
char *arc_clean(const char *s);
void arc_format_time(long long t, char out[ARC_TIME_LEN]);

typedef struct arc_json_extra {
	const char *key;
	char type;		/* 's' string, 'b' boolean, 'i' integer */
	const char *s;
	long long i;
} arc_json_extra;

char *arc_record_json(const arc_record *r);
char *arc_delivery_json(const arc_delivery *d, const arc_json_extra *extra, size_t n);
int arc_record_parse(const char *line, size_t len, arc_record *r);
void arc_record_clear(arc_record *r);

#endif
