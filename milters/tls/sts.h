/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sts - MTA-STS (RFC 8461): a partner's published outbound TLS policy,
 *	answered for Postfix from a cache that a background thread refreshes
 * SYNOPSIS
 *	#include "milters/tls/sts.h"
 *
 *	ptls_sts *ptls_sts_new(const ptls_sts_config *cfg, char **err);
 *	void ptls_sts_free(ptls_sts *s);
 *	ptls_sts_result ptls_sts_answer(ptls_sts *s, const char *domain,
 *	                                char **postfix_answer, char **why);
 *	int ptls_sts_fetch_now(ptls_sts *s, const char *domain, char **why);
int ptls_sts_mx_report(ptls_sts *s, const char *domain, char **report);
 *	int ptls_sts_mx_report(ptls_sts *s, const char *domain, char **report);
 *	int ptls_sts_cache_lookup(const char *cache_file, const char *domain,
 *	                          ptls_sts_policy **policy,
 *	                          char id[PTLS_STS_ID_MAX + 1]);
 *	char *ptls_sts_policy_text(const ptls_sts_policy *p);
 * DESCRIPTION
 *	One ptls_sts per running daemon holds the MTA-STS policies seen,
 *	keyed by the policy domain (lower case A-label, no trailing dot),
 *	with the id of the TXT record, the fetch time and max_age. It is
 *	written to cfg->cache_file (the daemon's data directory) after every
 *	change and read back by ptls_sts_new(), so a restart keeps every
 *	policy until its max_age runs out (RFC 8461 section 5).
 *
 *	ptls_sts_answer() is what the socketmap server (socketmap.h) calls
 *	for a next-hop domain when the static policy does not decide: the
 *	domain's own policy line says outbound=sts, or no line matches and
 *	sts_all_domains = yes. A static partner line with any other
 *	outbound= level always wins; the caller never asks this module for
 *	such a domain. The answer never waits longer than
 *	cfg->lookup_timeout_ms: a domain never seen, or whose cached policy
 *	is older than sts_refresh_interval, is queued for the background
 *	thread (bounded queue, one fetch per domain at a time) and, when the
 *	fetch does not finish within the bound, answered from the cache
 *	(still within max_age) or as "no policy". The thread queries the
 *	TXT record "_mta-sts.DOMAIN"; when its id differs from the cached
 *	one (or nothing is cached) it fetches
 *	https://mta-sts.DOMAIN/.well-known/mta-sts.txt with certificate and
 *	host name verification (OpenSSL, cfg->ca_file or the system store)
 *	and no redirects (RFC 8461 3.3). A failed lookup or fetch keeps the
 *	cached policy (RFC 8461 5.1).
 *
 *	Results:
 *	PTLS_STS_ENFORCE: mode enforce; *postfix_answer (pn_free) is the
 *	    smtp_tls_policy_maps value, e.g.
 *	        secure match=mx1.example.com:.example.net servername=hostname
 *	    ("*.example.net" in the policy becomes Postfix's ".example.net",
 *	    "servername=hostname" makes Postfix send SNI for the MX name).
 *	PTLS_STS_NONE: no policy, mode none, or mode testing (Postfix then
 *	    applies its default level; the "would fail" of testing mode is
 *	    for the report, RFC 8460). *postfix_answer is NULL.
 *	*why (pn_free, may be NULL) is one log-ready line: the mode, the id,
 *	whether the answer came from the cache or a fetch just made, and why
 *	a policy is missing ("no _mta-sts TXT record", "HTTPS: certificate
 *	verify failed: ...", "lookup still running after 200 ms").
 *
 *	ptls_sts_fetch_now() looks up and fetches in the calling thread
 *	(the "postern-tls sts DOMAIN" tool), updating the cache; 0 when a
 *	policy is now cached, -1 with *why otherwise.
 *
 *	ptls_sts_mx_report() looks up domain's MX records and checks each
 *	against the cached policy's patterns (RFC 8461 4.1), one line per MX
 *	in *report (pn_free); it returns how many do not match, -1 when no
 *	policy is cached or no MX is found.
 *
 *	ptls_sts_cache_lookup() reads the cache file (no network) for the
 *	report (RFC 8460 policy-type "sts"): 1 with *policy (free with
 *	ptls_sts_policy_free) and its id when a policy for domain is cached
 *	and within max_age, 0 when none, -1 when the file cannot be used.
 *	ptls_sts_policy_text() writes a policy back one field a line
 *	("version: STSv1", "mode: ...", "mx: ..." ..., "max_age: N"), the
 *	lines of RFC 8460's policy-string (pn_free).
 *
 *	The pieces, each usable alone (tests, fuzz target):
 *	ptls_sts_policy_parse() parses the policy file text (RFC 8461 3.2);
 *	ptls_sts_mx_match() matches an MX host name against a policy's mx
 *	patterns (RFC 8461 4.1: "*." covers exactly one label);
 *	ptls_sts_txt_parse() reads "v=STSv1; id=..." (RFC 8461 3.1).
 *
 *	Where it lives: the tls engine's state (tls_milter.h) holds
 *	st->sts (NULL when MTA-STS is off: sts_enable = no) and
 *	st->sts_all_domains. A policy line with outbound=sts sets
 *	p->sts = 1 (policy.h) and is not exported to a table file. The
 *	socketmap server, for a next-hop domain D:
 *	    p = ptls_policy_lookup(st->policy, D);
 *	    if (p && !p->sts) -> the static table line (static rule wins)
 *	    else if (st->sts && (p || st->sts_all_domains))
 *	        r = ptls_sts_answer(st->sts, D, &answer, &why);
 *	        ENFORCE -> "OK answer"; NONE -> NOTFOUND; log why
 *	    else -> NOTFOUND
 *
 *	Thread safety: ptls_sts_answer() may be called from many threads.
 *	ptls_sts_free() never waits for a fetch: an idle refresh thread is
 *	joined, a busy one detached, and it frees the object when its fetch
 *	has ended (by its deadline), so releasing the last snapshot in a
 *	socketmap request stays fast.
 * DIAGNOSTICS
 *	ptls_sts_new() returns NULL with *err (pn_free) for a bad
 *	configuration (resolver address, unreadable CA file). A cache file
 *	that cannot be read or parsed is logged and ignored, never fatal.
 *	ptls_sts_policy_parse() returns NULL with *err naming the line and
 *	what is wrong; hostile input (huge, binary, thousands of mx lines)
 *	is refused within the bounds below.
 */
#ifndef PTLS_STS_H
#define PTLS_STS_H

#include <stddef.h>
#include <time.h>

/* RFC 8461 bounds and ours against hostile servers */
#define PTLS_STS_POLICY_MAX	(64 * 1024)	/* policy file bytes (RFC: 64 KB) */
#define PTLS_STS_MX_MAX		64		/* mx: lines kept */
#define PTLS_STS_MAX_AGE_MAX	31557600LL	/* one year (RFC 8461 3.2) */
#define PTLS_STS_ID_MAX		32		/* id=: 1*32(ALPHA / DIGIT) */

typedef enum ptls_sts_mode {
	PTLS_STS_MODE_NONE,
	PTLS_STS_MODE_TESTING,
	PTLS_STS_MODE_ENFORCE
} ptls_sts_mode;

typedef struct ptls_sts_policy {
	ptls_sts_mode mode;
	long long max_age;	/* seconds */
	char **mx;		/* NULL-terminated, lower case, as published */
	size_t mx_count;
} ptls_sts_policy;

typedef struct ptls_sts_config {
	const char *resolver;		/* "127.0.0.1:5353" etc., NULL/"": resolv.conf */
	const char *ca_file;		/* PEM bundle, NULL/"": OpenSSL's default store */
	unsigned https_port;		/* 0: 443 (other ports only for tests) */
	const char *cache_file;		/* NULL/"": memory only */
	long long lookup_timeout_ms;	/* bound of ptls_sts_answer() */
	long long fetch_timeout_ms;	/* bound of one DNS query + HTTPS fetch */
	long long refresh_interval;	/* seconds before the TXT id is re-checked */
	size_t cache_max;		/* domains kept */
} ptls_sts_config;

typedef struct ptls_sts ptls_sts;

typedef enum ptls_sts_result {
	PTLS_STS_NONE,
	PTLS_STS_ENFORCE
} ptls_sts_result;

ptls_sts *ptls_sts_new(const ptls_sts_config *cfg, char **err);
void ptls_sts_free(ptls_sts *s);
ptls_sts_result ptls_sts_answer(ptls_sts *s, const char *domain, char **postfix_answer,
				char **why);
int ptls_sts_fetch_now(ptls_sts *s, const char *domain, char **why);
int ptls_sts_mx_report(ptls_sts *s, const char *domain, char **report);

ptls_sts_policy *ptls_sts_policy_parse(const char *text, size_t len, char **err);
void ptls_sts_policy_free(ptls_sts_policy *p);
const char *ptls_sts_mode_name(ptls_sts_mode m);
int ptls_sts_mx_match(const ptls_sts_policy *p, const char *mx_host);
int ptls_sts_txt_parse(const char *txt, size_t len, char id[PTLS_STS_ID_MAX + 1]);
char *ptls_sts_postfix_answer(const ptls_sts_policy *p);
char *ptls_sts_policy_text(const ptls_sts_policy *p);
int ptls_sts_cache_lookup(const char *cache_file, const char *domain, ptls_sts_policy **policy,
			  char id[PTLS_STS_ID_MAX + 1]);

#endif
