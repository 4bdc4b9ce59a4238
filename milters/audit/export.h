/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	export - select audit records and write them as JSON, JSON Lines or CSV
 * SYNOPSIS
 *	#include "milters/audit/export.h"
 *
 *	void audit_filter_init(audit_filter *f);
 *	void audit_filter_free(audit_filter *f);
 *	int audit_filter_add(audit_filter *f, audit_filter_kind kind,
 *	                     const char *value, char **err);
 *	int audit_time_parse(const char *text, long long *ms);
 *
 *	audit_export *audit_export_new(const audit_filter *f, audit_format fmt,
 *	                               FILE *out);
 *	int audit_export_line(audit_export *x, const char *line, size_t len);
 *	unsigned long audit_export_count(const audit_export *x);
 *	int audit_export_finish(audit_export *x);
 * DESCRIPTION
 *	A filter holds the conditions of `postern-audit export`. Conditions
 *	of different kinds must all hold; several values of one kind are
 *	alternatives. AUDIT_F_SINCE and AUDIT_F_UNTIL bound ts (since
 *	inclusive, until exclusive). AUDIT_F_FROM matches the envelope
 *	sender or any From header address, AUDIT_F_RCPT any envelope
 *	recipient or To/Cc address: a value "@example.com" matches every
 *	address in that domain, anything else one address; both without
 *	regard to case. AUDIT_F_CLIENT takes a list of networks (cidr.h)
 *	matched against client.ip, AUDIT_F_COUNTRY an ISO code matched
 *	against client.geo.country, AUDIT_F_QUEUE_ID a queue id. The
 *	trail's own trail-start and key-change records are never exported
 *	(they are bookkeeping for verify); gap records are.
 *
 *	audit_time_parse() reads RFC 3339 and its shorter forms:
 *	YYYY-MM-DD, YYYY-MM-DDTHH:MM, ...:SS, ...:SS.fff, with "T" or a
 *	space, and a zone "Z" or +HH:MM / -HH:MM (none means UTC), into
 *	milliseconds since the epoch.
 *
 *	audit_export_line() takes one trail line, checks it is a JSON
 *	object, applies the filter and writes it: AUDIT_FMT_JSONL writes
 *	the line exactly as stored, AUDIT_FMT_JSON the same records as
 *	the elements of one JSON array, AUDIT_FMT_CSV one row per record
 *	under a header row (columns listed in postern-audit(8)), quoted as
 *	RFC 4180 says, with list members joined by a space (addresses) or
 *	"; " (attachment names). A CSV field that starts with =, +, -, @,
 *	tab or CR gets a leading single quote, so a spreadsheet shows it
 *	instead of running it as a formula: subjects and file names come
 *	from strangers. AUDIT_FMT_ECS, _OCSF and _CIM write one SIEM event
 *	per line (siem.h); a CIM export leaves out records that are not
 *	about mail, and such a record does not count as written. audit_export_finish() closes the output (the JSON
 *	array) and frees x. Only one line is held at a time.
 * DIAGNOSTICS
 *	audit_filter_add() returns 0, or -1 with *err for a bad value.
 *	audit_export_line() returns 1 when the record was written, 0 when
 *	the filter left it out, -1 when the line is not a JSON object.
 *	audit_export_finish() returns 0, or -1 when writing failed.
 */
#ifndef AUDIT_EXPORT_H
#define AUDIT_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "common/cidr.h"

typedef enum {
	AUDIT_FMT_JSON, AUDIT_FMT_JSONL, AUDIT_FMT_CSV,
	AUDIT_FMT_ECS, AUDIT_FMT_OCSF, AUDIT_FMT_CIM	/* SIEM events, one per line: siem.h */
} audit_format;

typedef enum {
	AUDIT_F_SINCE, AUDIT_F_UNTIL, AUDIT_F_FROM, AUDIT_F_RCPT, AUDIT_F_CLIENT,
	AUDIT_F_COUNTRY, AUDIT_F_QUEUE_ID, AUDIT_F_KINDS
} audit_filter_kind;

typedef struct audit_filter {
	int has_since, has_until;
	long long since_ms, until_ms;
	char **values[AUDIT_F_KINDS];	/* FROM, RCPT, COUNTRY, QUEUE_ID */
	size_t count[AUDIT_F_KINDS];
	pn_cidr_list **clients;
	size_t nclients;
} audit_filter;

typedef struct audit_export audit_export;

void audit_filter_init(audit_filter *f);
void audit_filter_free(audit_filter *f);
int audit_filter_add(audit_filter *f, audit_filter_kind kind, const char *value, char **err);
int audit_time_parse(const char *text, long long *ms);
audit_export *audit_export_new(const audit_filter *f, audit_format fmt, FILE *out);
int audit_export_line(audit_export *x, const char *line, size_t len);
unsigned long audit_export_count(const audit_export *x);
int audit_export_finish(audit_export *x);

#endif
