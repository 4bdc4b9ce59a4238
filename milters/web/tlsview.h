/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	tlsview - TLS partners: their policy and how their sessions went
 * SYNOPSIS
 *	#include "milters/web/tlsview.h"
 *
 *	int web_tls_partners(pn_buf *out, const char *policy_file,
 *	                     char **trail_files, size_t n,
 *	                     const web_tls_opts *o, char **err);
 *	int web_tls_partner(pn_buf *out, const char *domain,
 *	                    const char *policy_file, char **trail_files,
 *	                    size_t n, const web_tls_opts *o, char **err);
 * DESCRIPTION
 *	The partner domains are the keys of postern-tls's policy file,
 *	parsed with postern-tls's own parser (milters/tls/policy.h). The
 *	sessions are the audit trail's records (milters/audit/reader.h,
 *	compressed rotated files too): a record is a session with domain D
 *	when the normalised domain (common/domain.h: IDNA, case, trailing
 *	dot) of its envelope sender or of one of its recipients is D, or
 *	is under D for a ".D" key. Each session is
 *	  refused    when the record is a "refused" event, or its tls
 *	             engine verdict is not "pass"/"none" (reject, tempfail,
 *	             hold, tag, log: the policy was not met);
 *	  compliant  otherwise (a message record).
 *	Connection, trail-start, gap, key-change and outcome records are
 *	not sessions.
 *
 *	web_tls_partners() appends <table id="partners">: one
 *	<tr class="partner"> per policy line in file order: the domain key
 *	(a link /tls?domain=KEY), the rule (tls, min_version, min_bits,
 *	verify, direction, action, outbound), and the counts of recent
 *	sessions compliant / refused.
 *
 *	web_tls_partner() appends, for one domain (normalised first, so
 *	"Example.COM." is example.com; the policy line that applies is
 *	found with ptls_policy_lookup, as postern-tls finds it):
 *	  <div id="compliance"> the rule and "N sessions: C compliant,
 *	    R refused";
 *	  <table id="sessions"> one <tr class="session"> per recent
 *	    session, newest first: time, queue id, direction, client, TLS
 *	    version, cipher, bits, certificate verified, verdict.
 *
 *	"Recent" and the bounds: the trail files are read newest first
 *	(the last one given first), each from its start, and reading stops
 *	after o->max_lines lines in all (0: WEB_TLS_MAX_LINES, 500,000),
 *	or at records older than o->since (a time_t; 0: no limit). When a
 *	bound stopped reading, the page says how many lines were read. At
 *	most o->max_sessions (0: WEB_TLS_MAX_SESSIONS, 200) sessions are
 *	listed. Lines are matched by a substring test on the domain before
 *	they are parsed.
 *
 *	policy_file may be NULL (no TLS policy configured): the partners
 *	table is then empty and says so; a partner page still lists the
 *	domain's sessions.
 * DIAGNOSTICS
 *	0, or -1 with *err (pn_free): the policy file does not parse (the
 *	parser's message, file:line), the domain is not a domain name, or
 *	out is full. A trail file that cannot be read is reported in the
 *	page, not as an error.
 */
#ifndef WEB_TLSVIEW_H
#define WEB_TLSVIEW_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"

#define WEB_TLS_MAX_LINES 500000UL
#define WEB_TLS_MAX_SESSIONS 200

typedef struct web_tls_opts {
	unsigned long max_lines;	/* trail lines read, 0 = WEB_TLS_MAX_LINES */
	size_t max_sessions;		/* listed, 0 = WEB_TLS_MAX_SESSIONS */
	time_t since;			/* ignore older records, 0 = no limit */
} web_tls_opts;

int web_tls_partners(pn_buf *out, const char *policy_file, char **trail_files, size_t n,
		     const web_tls_opts *o, char **err);
int web_tls_partner(pn_buf *out, const char *domain, const char *policy_file, char **trail_files,
		    size_t n, const web_tls_opts *o, char **err);

#endif
