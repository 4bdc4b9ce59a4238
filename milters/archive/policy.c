/* SPDX-License-Identifier: BSD-2-Clause */
/* policy - archive scope and retention (see policy.h) */
#include "milters/archive/policy.h"
#include "common/alloc.h"
#include "common/cidr.h"
#include "common/domain_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct arc_policy {
	pn_domain_map *include, *exclude_sender, *exclude_rcpt;
	pn_cidr_list *internal;
	char direction[16];
};

/* load_map - a domain list into a map (NULL for an empty list) */
static int load_map(const char *param, const char *text, pn_domain_map **out, char **err)
{
	char *copy = pn_strdup(text ? text : ""), *save = NULL, *tok;
	int rc = 0;

	*out = NULL;
	for (tok = strtok_r(copy, " ,\t\n", &save); tok; tok = strtok_r(NULL, " ,\t\n", &save)) {
		char *value = pn_strdup(tok);
		int r;
		if (*out == NULL)
			*out = pn_domain_map_new();
		r = pn_domain_map_add(*out, tok, value);
		if (r < 0)
			pn_free(value);	/* not taken: -1 listed twice (harmless), -2 bad */
		if (r == -2) {
			*err = pn_asprintf("parameter \"%s\": \"%s\" is not a domain", param, tok);
			rc = -1;
			break;
		}
	}
	pn_free(copy);
	return rc;
}

/* arc_policy_new - compile the scope rules */
arc_policy *arc_policy_new(const arc_policy_spec *spec, char **err)
{
	arc_policy *p = pn_calloc(1, sizeof(*p));
	const char *dir = spec->direction && *spec->direction ? spec->direction : "both";

	*err = NULL;
	if (load_map("include_domains", spec->include_domains, &p->include, err) < 0
	    || load_map("exclude_sender_domains", spec->exclude_sender_domains,
			&p->exclude_sender, err) < 0
	    || load_map("exclude_recipient_domains", spec->exclude_recipient_domains,
			&p->exclude_rcpt, err) < 0)
		goto fail;
	if (spec->internal_networks && *spec->internal_networks) {
		char *why = NULL;
		if ((p->internal = pn_cidr_list_parse(spec->internal_networks, &why)) == NULL) {
			*err = pn_asprintf("parameter \"internal_networks\": %s", why ? why : "bad list");
			pn_free(why);
			goto fail;
		}
	}
	if (strcmp(dir, "both") != 0 && strcmp(dir, "inbound") != 0 && strcmp(dir, "outbound") != 0) {
		*err = pn_asprintf("parameter \"direction\" = \"%s\": not both, inbound or outbound", dir);
		goto fail;
	}
	snprintf(p->direction, sizeof(p->direction), "%s", dir);
	return p;
fail:
	arc_policy_free(p);
	return NULL;
}

/* arc_policy_free - release the rules */
void arc_policy_free(arc_policy *p)
{
	if (p == NULL)
		return;
	if (p->include)
		pn_domain_map_free(p->include, pn_free);
	if (p->exclude_sender)
		pn_domain_map_free(p->exclude_sender, pn_free);
	if (p->exclude_rcpt)
		pn_domain_map_free(p->exclude_rcpt, pn_free);
	pn_cidr_list_free(p->internal);
	pn_free(p);
}

/* arc_domain_of - lower-cased domain of an address */
char *arc_domain_of(const char *addr)
{
	const char *at = strrchr(addr ? addr : "", '@');
	char *d, *p;
	size_t n;

	if (at == NULL)
		return pn_strdup("");
	d = pn_strdup(at + 1);
	n = strlen(d);
	if (n && d[n - 1] == '>')
		d[--n] = '\0';
	for (p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* in_map - whether an address's domain is in a map */
static int in_map(const pn_domain_map *m, const char *addr)
{
	char *d;
	int hit;

	if (m == NULL)
		return 0;
	d = arc_domain_of(addr);
	hit = *d && pn_domain_map_lookup(m, d, NULL) != NULL;
	pn_free(d);
	return hit;
}

/* arc_policy_direction - inbound or outbound, by authentication or network */
const char *arc_policy_direction(const arc_policy *p, const char *auth, const char *client_addr)
{
	if (auth && *auth)
		return "outbound";
	if (p->internal && client_addr && *client_addr
	    && pn_cidr_list_match(p->internal, client_addr))
		return "outbound";
	return "inbound";
}

/* arc_policy_in_scope - 1 to archive, 0 to pass with *why */
int arc_policy_in_scope(const arc_policy *p, const char *sender, char **rcpts, size_t n,
			const char *direction, const char **why)
{
	size_t i;
	int all_excluded = n > 0, included = 0;

	*why = NULL;
	if (strcmp(p->direction, "both") != 0 && strcmp(p->direction, direction) != 0) {
		*why = "direction";
		return 0;
	}
	if (in_map(p->exclude_sender, sender)) {
		*why = "exclude_sender_domains";
		return 0;
	}
	if (p->exclude_rcpt) {
		for (i = 0; i < n && all_excluded; i++)
			if (!in_map(p->exclude_rcpt, rcpts[i]))
				all_excluded = 0;
		if (all_excluded) {
			*why = "exclude_recipient_domains";
			return 0;
		}
	}
	if (p->include) {
		included = in_map(p->include, sender);
		for (i = 0; i < n && !included; i++)
			included = in_map(p->include, rcpts[i]);
		if (!included) {
			*why = "include_domains";
			return 0;
		}
	}
	return 1;
}

/* arc_retention_parse - "0", "30d", "52w", "10y" */
int arc_retention_parse(const char *s, arc_retention *r, char **err)
{
	char *end;
	long long v;

	r->count = 0;
	r->unit = 'd';
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0 || v > 1000000
	    || (v > 0 && (strchr("dwy", *end) == NULL || *end == '\0' || end[1] != '\0'))
	    || (v == 0 && *end && (strchr("dwy", *end) == NULL || end[1] != '\0'))) {
		*err = pn_asprintf("parameter \"retention\" = \"%s\": not 0 (forever) or a number "
				   "with d, w or y (e.g. 10y)", s);
		return -1;
	}
	r->count = v;
	if (*end)
		r->unit = *end;
	return 0;
}

/* arc_retention_cutoff - deliveries before this time have expired (-1: never) */
long long arc_retention_cutoff(const arc_retention *r, long long now)
{
	time_t t = (time_t)now;
	struct tm tm;

	if (r->count == 0)
		return -1;
	if (r->unit == 'd')
		return now - r->count * 86400;
	if (r->unit == 'w')
		return now - r->count * 7 * 86400;
	gmtime_r(&t, &tm);
	tm.tm_year -= (int)r->count;
	return (long long)timegm(&tm);
}
