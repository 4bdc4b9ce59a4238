/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	report - the TLS ledger per partner as text, JSON or an RFC 8460 report
 * SYNOPSIS
 *	#include "milters/tls/report.h"
 *
 *	int ptls_report(ptls_ledger *l, const ptls_report_opts *o, FILE *out,
 *	                char **err);
 * DESCRIPTION
 *	ptls_report() reads the ledger for the UTC days o->since ..
 *	o->until (YYYY-MM-DD, both included; NULL: unbounded) and one
 *	partner domain (o->partner, normalised by the caller) or all, and
 *	prints it in o->format:
 *
 *	PTLS_REPORT_TEXT, for people: per partner and direction the number
 *	of sessions by result, then one line per kind of session (count,
 *	result, TLS version, cipher, trust, failure, MX host, reason).
 *
 *	PTLS_REPORT_JSON, for scripts: {"since", "until", "partners": [{
 *	"domain", "inbound": {"sessions", "results": {RESULT: N},
 *	"rows": [{"result", "tls", "cipher", "trust", "failure",
 *	"mx_host", "detail", "count"}]}, "outbound": {...}}]}.
 *
 *	PTLS_REPORT_RFC8460: the aggregate report of RFC 8460 section 4 over
 *	the outbound sessions (the sending MTA's view, which is what a
 *	partner receiving such reports expects): organization-name,
 *	date-range {start-datetime, end-datetime}, contact-info, report-id
 *	and one policies[] entry per partner domain with policy
 *	{policy-type, policy-string[], policy-domain, mx-host[]}, summary
 *	{total-successful-session-count, total-failure-session-count} and
 *	failure-details[] {result-type, receiving-mx-hostname (when the
 *	relay is known), failed-session-count, failure-reason-code
 *	(Postfix's reason, when logged)}.
 *	A session succeeded when mail was delivered over TLS; it failed when
 *	its ledger row has a failure (an RFC 8460 result type), plain-text
 *	deliveries included ("starttls-not-supported"); deferrals for other
 *	reasons (a refused connection) are no TLS session and not counted.
 *	policy-type is "sts" when the partner's MTA-STS policy applied (no
 *	static rule wins: its line says outbound=sts, or there is none) and
 *	o->sts_cache_file holds it: policy-string is the policy as published
 *	and mx-host its mx patterns (RFC 8460 4.4); under a policy in
 *	testing mode a delivery in plain text, to an MX the policy does not
 *	list or with an untrusted certificate counts as the failure enforce
 *	would have refused (Postfix was not told the policy). Otherwise it is
 *	"no-policy-found" (Postern's rules are no published policy: the
 *	static rule that applies, from o->policy, is described in
 *	policy-string as "key: value" lines, and mx-host lists the MX hosts
 *	the sessions went to). Dates are RFC 3339 UTC:
 *	since 00:00:00Z to until 23:59:59Z (without since: the first day in
 *	the ledger; without until: today). o->report_id, when NULL, is made
 *	from the range, the organisation and 64 random bits.
 * DIAGNOSTICS
 *	-1 with *err (free with pn_free) when the ledger cannot be read.
 */
#ifndef PTLS_REPORT_H
#define PTLS_REPORT_H

#include <stdio.h>
#include <time.h>

#include "milters/tls/ledger.h"
#include "milters/tls/policy.h"

#define PTLS_REPORT_TEXT	0
#define PTLS_REPORT_JSON	1
#define PTLS_REPORT_RFC8460	2

typedef struct ptls_report_opts {
	int format;
	const char *since, *until;	/* YYYY-MM-DD or NULL */
	const char *partner;		/* NULL: all */
	const char *organization;	/* RFC 8460 organization-name */
	const char *contact;		/* RFC 8460 contact-info */
	const char *report_id;		/* NULL: made up */
	const ptls_policy_set *policy;	/* for policy-string; may be NULL */
	const char *sts_cache_file;	/* MTA-STS cache (sts.h) for policy-type "sts", or NULL */
	time_t now;
} ptls_report_opts;

int ptls_report(ptls_ledger *l, const ptls_report_opts *o, FILE *out, char **err);
int ptls_report_format_parse(const char *s);

#endif
