/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	policy - which mail the archive keeps, and for how long
 * SYNOPSIS
 *	#include "milters/archive/policy.h"
 *
 *	arc_policy *arc_policy_new(const arc_policy_spec *spec, char **err);
 *	void arc_policy_free(arc_policy *p);
 *	const char *arc_policy_direction(const arc_policy *p, const char *auth,
 *	                                 const char *client_addr);
 *	int  arc_policy_in_scope(const arc_policy *p, const char *sender,
 *	                         char **rcpts, size_t n, const char *direction,
 *	                         const char **why);
 *	char *arc_domain_of(const char *addr);
 *
 *	int  arc_retention_parse(const char *s, arc_retention *r, char **err);
 *	long long arc_retention_cutoff(const arc_retention *r, long long now);
 * DESCRIPTION
 *	Everything is archived unless the configuration narrows it:
 *	    include_domains            when not empty, a message is kept only
 *	                               if its envelope sender or one of its
 *	                               recipients is in one of these domains
 *	    exclude_sender_domains     a sender in these domains: not kept
 *	    exclude_recipient_domains  every recipient in these domains: not
 *	                               kept
 *	    direction                  both, inbound or outbound
 *	Domains are written as in Postfix tables: "example.com" is that
 *	domain, ".example.com" its subdomains; lists are separated by
 *	commas or white space. A message is outbound when the client
 *	authenticated (the MTA's {auth_authen} macro) or its address is in
 *	internal_networks (see cidr(3)); otherwise inbound.
 *
 *	arc_policy_in_scope() returns 1 to archive, 0 to let the message
 *	pass unarchived, with *why naming the rule that excluded it.
 *	arc_domain_of() is the lower-cased domain of an address ("" when it
 *	has none).
 *
 *	Retention is "0" (keep forever) or a count with a unit: d (days), w
 *	(weeks) or y (calendar years: a delivery of 2015-03-01 12:00 expires
 *	2025-03-01 12:00 with 10y). arc_retention_cutoff() is the time
 *	before which deliveries have expired, or -1 for forever.
 * DIAGNOSTICS
 *	arc_policy_new() and arc_retention_parse() return NULL / -1 with
 *	*err naming the parameter and the bad value.
 */
#ifndef ARC_POLICY_H
#define ARC_POLICY_H

#include <stddef.h>

typedef struct arc_policy arc_policy;

typedef struct arc_policy_spec {
	const char *include_domains;
	const char *exclude_sender_domains;
	const char *exclude_recipient_domains;
	const char *direction;		/* "both", "inbound", "outbound" */
	const char *internal_networks;
} arc_policy_spec;

typedef struct arc_retention {
	long long count;	/* 0: forever */
	char unit;		/* 'd', 'w' or 'y' */
} arc_retention;

arc_policy *arc_policy_new(const arc_policy_spec *spec, char **err);
void arc_policy_free(arc_policy *p);
const char *arc_policy_direction(const arc_policy *p, const char *auth, const char *client_addr);
int arc_policy_in_scope(const arc_policy *p, const char *sender, char **rcpts, size_t n,
			const char *direction, const char **why);
char *arc_domain_of(const char *addr);
int arc_retention_parse(const char *s, arc_retention *r, char **err);
long long arc_retention_cutoff(const arc_retention *r, long long now);

#endif
