/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	siem - map audit records to ECS, OCSF and Splunk CIM events
 * SYNOPSIS
 *	#include "milters/audit/siem.h"
 *
 *	void audit_siem_model(audit_siem_record *r, json_object *rec,
 *	                      const char *line, size_t len);
 *	json_object *audit_siem_map(audit_siem_format fmt,
 *	                            const audit_siem_record *r);
 *	int audit_siem_write(audit_siem_format fmt, json_object *rec,
 *	                     const char *line, size_t len, pn_buf *out);
 *	int audit_siem_format_parse(const char *name, audit_format *fmt);
 * DESCRIPTION
 *	SIEMs want events in their own schema. One record model, three
 *	mappings: audit_siem_model() reads a parsed trail record (rec, and
 *	the stored line it came from, whose SHA-256 becomes the event's
 *	identity) into an audit_siem_record that points into rec; the
 *	mappers turn that model into an event of one format, so the three
 *	formats can never disagree on what a record says:
 *
 *	    AUDIT_SIEM_ECS   Elastic Common Schema, nested objects;
 *	                     Postern's own facts under postern.*
 *	    AUDIT_SIEM_OCSF  OCSF 1.x: a message or aborted message is an
 *	                     Email Activity (4009) event, a connection
 *	                     record a Network Activity (4001) event; facts
 *	                     without an OCSF attribute go under unmapped
 *	    AUDIT_SIEM_CIM   Splunk CIM Email data model, flat fields;
 *	                     every required field is filled, with
 *	                     "unknown" where the record has no value
 *
 *	Record kinds: a record whose "event" member is message, aborted,
 *	connection, refused or outcome is an email record. A refused
 *	attempt (and an outcome record: the MTA refused a message after its
 *	record was written) is a failure: ECS event.outcome "failure",
 *	event.type "denied", event.action "message-refused" (or
 *	"message-outcome"), event.reason the refusal in words; OCSF Email
 *	Activity with status Failure, status_code the SMTP reply code,
 *	status_detail the same words; CIM action "blocked" with
 *	postern_refused_by, postern_refused_step and postern_reply. The
 *	engines' notes (engines) and the refusal object go whole under
 *	postern.* (ECS) and unmapped (OCSF): no schema has fields for a
 *	Sieve action or a TLS policy line. CIM leaves the notes to the raw
 *	record. Any other record (a trail's own
 *	records, e.g. one with a "type" member, or an event name added
 *	later) is mapped to a generic event: ECS event.kind "event" with
 *	event.action "audit-TYPE" and the whole record under
 *	postern.record; OCSF Base Event (class 0, activity 99 Other) with
 *	the record under unmapped.record; CIM skips it, since the Email
 *	data model has no place for it. Nothing in a record can make the
 *	mapping fail: members of an unexpected JSON type are ignored. A
 *	record without a valid ts gets the time it was mapped (ECS's rule
 *	for a source without a time), its ts kept under postern/unmapped.
 *
 *	Redaction and pseudonymisation happen when the record is built
 *	(record.h), so every format shows exactly what the trail holds.
 *
 *	audit_siem_write() models and maps rec and appends the event as
 *	one JSON line (with its newline) to out. The fields each mapping
 *	may emit, with their types, are listed in siem_fields.h.
 *	audit_siem_format_parse() reads "ecs", "ocsf" or "cim" (the export
 *	and tail --format values) into the export format.
 * DIAGNOSTICS
 *	audit_siem_map() returns a new object (json_object_put), or NULL
 *	when the format's rule skips the record. audit_siem_write()
 *	returns 1 when it wrote an event, 0 when the record was skipped.
 *	audit_siem_format_parse() returns 0, or -1 for another name.
 */
#ifndef AUDIT_SIEM_H
#define AUDIT_SIEM_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/buf.h"
#include "milters/audit/export.h"

/* Versions of the schemas the mappings were written against. */
#define AUDIT_SIEM_ECS_VERSION "8.17.0"
#define AUDIT_SIEM_OCSF_VERSION "1.9.0-dev"

typedef enum { AUDIT_SIEM_ECS, AUDIT_SIEM_OCSF, AUDIT_SIEM_CIM } audit_siem_format;

typedef enum {
	AUDIT_SIEM_MESSAGE, AUDIT_SIEM_ABORTED, AUDIT_SIEM_CONNECTION, AUDIT_SIEM_REFUSED,
	AUDIT_SIEM_OUTCOME, AUDIT_SIEM_OTHER
} audit_siem_kind;

typedef enum {
	AUDIT_SIEM_DIR_UNKNOWN, AUDIT_SIEM_DIR_INBOUND, AUDIT_SIEM_DIR_OUTBOUND
} audit_siem_direction;

/* What one record says, pointing into the parsed record (NULL: absent). */
typedef struct audit_siem_record {
	json_object *rec;
	audit_siem_kind kind;
	const char *kind_name;		/* type member, else event, else "record" */
	int has_seq;
	long long seq;
	const char *ts;
	int has_time;			/* ts is a time; else time_ms and now are the mapping's */
	long long time_ms;
	char now[32];
	const char *host, *queue_id;
	int has_duration;
	long long duration_ms;
	const char *client_ip, *client_name, *helo, *country, *as_org;
	long long client_port, asn;	/* 0: absent */
	int has_tls, tls_verified;	/* tls_verified -1: absent */
	const char *tls_version, *tls_cipher, *cert_subject, *cert_issuer;
	long long tls_bits;		/* -1: absent */
	const char *auth_type, *auth_user, *auth_author;
	int has_envelope;
	const char *env_from;		/* "" is the null sender */
	json_object *env_rcpt;		/* array of strings, or NULL */
	json_object *hdr_from, *hdr_to, *hdr_cc, *hdr_reply_to;	/* arrays of {addr} */
	const char *subject, *message_id, *date, *in_reply_to, *list_id;
	json_object *extra, *duplicates, *unparsed;
	int hdr_truncated;
	int has_size;
	long long size;
	const char *sha256;
	json_object *attachments;	/* array of {filename, content_type, size, sha256} */
	int attachments_truncated;
	json_object *mime;		/* the MIME tree {count, parts[], truncated}, or NULL */
	json_object *privacy;
	json_object *engines;		/* the engines' notes {engine: {key: value}}, or NULL */
	json_object *refusal;		/* refused, outcome: {step, verdict, by, code, ...} */
	const char *refusal_by, *refusal_step, *refusal_code, *refusal_text, *refusal_reason;
	int has_corrects;
	long long corrects_seq;		/* outcome: the message record it corrects */
	const char *prev, *mac;
	char line_sha256[65];		/* "" when no line was given */
	audit_siem_direction direction;
} audit_siem_record;

void audit_siem_model(audit_siem_record *r, json_object *rec, const char *line, size_t len);
json_object *audit_siem_map(audit_siem_format fmt, const audit_siem_record *r);
int audit_siem_write(audit_siem_format fmt, json_object *rec, const char *line, size_t len,
		     pn_buf *out);
int audit_siem_format_parse(const char *name, audit_format *fmt);

#endif
