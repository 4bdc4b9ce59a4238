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
 *	  refused    a "refused" event by the tls engine, or postern-tls's
 *	             verdict in the record (engines.tls: verdict for the
 *	             sender's domain, rcpt "DOMAIN=VERDICT" for a
 *	             recipient's) is reject or tempfail;
 *	  violation  that verdict is hold, tag or log (the policy was not
 *	             met but the mail went on); or, when the record holds no
 *	             verdict (a standalone postern-audit), an inbound session
 *	             whose TLS facts miss the rule's tls=required,
 *	             min_version or verify=yes;
 *	  compliant  otherwise.
 *	Only "message" and "refused" records are sessions.
 *
 *	web_tls_partners() appends <table id="partners">: one
 *	<tr class="partner"> per policy line in file order: the domain key
 *	(a link /tls?domain=KEY), the rule (tls, min_version, min_bits,
 *	verify, direction, action, outbound), and the counts of recent
 *	sessions: <td class="compliant">, <td class="refused">,
 *	<td class="violations">. Each record counts once per policy line
 *	(its sender's domain for inbound lines, its recipients' for
 *	outbound ones); "*" collects every domain no other line names.
 *
 *	web_tls_partner() appends, for one domain (normalised first, so
 *	"Example.COM." is example.com; the policy line that applies is
 *	found with ptls_policy_lookup, as postern-tls finds it; ".D" names
 *	the policy line of that key and every subdomain of D):
 *	  <div id="compliance"> the rule and "N sessions: C compliant,
 *	    R refused, V other violations.";
 *	  <table id="sessions"> one <tr class="session"> per recent
 *	    session, newest first: time, queue id, direction, client, TLS
 *	    version, cipher, bits, certificate verified, verdict (its td's
 *	    class is "verdict compliant", "verdict refused" or "verdict
 *	    violation").
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
