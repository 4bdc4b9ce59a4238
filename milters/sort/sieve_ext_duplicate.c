/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_duplicate - duplicate (RFC 7352): the duplicate test over the engine's response store
 *
 *	duplicate [:handle H] [:header NAME | :uniqueid ID] [:seconds N] [:last]
 *
 * The ID is the first NAME field's value (Message-ID when neither
 * :header nor :uniqueid is given), white space trimmed; a message without
 * it, or with an empty one, is never a duplicate and is not tracked. The
 * key asked of the store (sv_services.seen) is the SHA-256 of the
 * recipient's address (lower case), the handle and the ID: one message
 * to two recipients is a duplicate for neither, and no address or ID is
 * stored in clear. The test only reads the store; the ID goes into
 * sv_result.marks and the engine records it once the whole chain of
 * scripts ran without error (RFC 7352 section 3: a failed delivery must
 * not make the next attempt a duplicate). A duplicate without :last is
 * not recorded again (its period runs from the first sighting); with
 * :last it is, so the period restarts. :seconds is capped at
 * sv_limits.duplicate_max_period; without it, duplicate_default_period.
 * With no store (the test tool) the test is false.
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"
#include "common/crypto.h"

#include <string.h>
#include <strings.h>

typedef struct dup_args {
	const sv_string *handle, *header, *uniqueid;
	unsigned long long seconds;
	int has_seconds, last;
} dup_args;

/* args_of - the node's duplicate arguments, made on first use */
static dup_args *args_of(sv_node *n)
{
	if (n->ext == NULL) {
		n->ext = pn_calloc(1, sizeof(dup_args));
		n->ext_free = pn_free;
	}
	return n->ext;
}

/* string_tag - a tag that takes one string; -1 when given twice */
static int string_tag(sv_parser *P, sv_node *n, size_t *i, const sv_string **slot)
{
	sv_arg *a = &n->args[*i], *v;

	if (*slot != NULL)
		return sv_perr(P, a->line, a->col, "tag \":%s\" given twice", a->tag);
	if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a string")) == NULL)
		return -1;
	if ((*slot = sv_single_string(P, v, a->tag)) == NULL)
		return -1;
	return 1;
}

/* sv_duplicate_tag - :handle, :header, :uniqueid, :seconds, :last */
int sv_duplicate_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;
	dup_args *d = args_of(n);

	if (strcmp(a->tag, "handle") == 0)
		return string_tag(P, n, i, &d->handle);
	if (strcmp(a->tag, "header") == 0 || strcmp(a->tag, "uniqueid") == 0) {
		if (d->header || d->uniqueid)
			return sv_perr(P, a->line, a->col, "duplicate takes only one of \":header\" "
				    "and \":uniqueid\"");
		return string_tag(P, n, i, a->tag[0] == 'h' ? &d->header : &d->uniqueid);
	}
	if (strcmp(a->tag, "seconds") == 0) {
		if (d->has_seconds++)
			return sv_perr(P, a->line, a->col, "tag \":seconds\" given twice");
		if ((v = sv_take_value(P, n, i, SV_ARG_NUMBER, "a number")) == NULL)
			return -1;
		d->seconds = v->num;
		return 1;
	}
	if (strcmp(a->tag, "last") == 0) {
		if (d->last++)
			return sv_perr(P, a->line, a->col, "tag \":last\" given twice");
		return 1;
	}
	return 0;
}

/* sv_duplicate_check - nothing beyond the tags: an invalid :header name is
 * not an error (as Pigeonhole, which warns), it names no field: false */
int sv_duplicate_check(sv_parser *P, sv_node *n)
{
	(void)P;
	(void)args_of(n);
	return 0;
}

/* trimmed - s without leading and trailing white space */
static const char *trimmed(const char *s, size_t len, size_t *outlen)
{
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'
			   || s[len - 1] == '\n'))
		len--;
	*outlen = len;
	return s;
}

/* the_id - the unique ID of the message for this test, NULL when none (or -1 via *bad) */
static const char *the_id(sv_ctx *c, const dup_args *d, size_t *len, int *bad)
{
	const char *name = "Message-ID", *v = NULL;
	size_t nlen;
	sv_vals vals;

	*bad = 0;
	if (d->uniqueid) {
		if ((v = sv_expand(c, d->uniqueid, &nlen)) == NULL) {
			*bad = 1;
			return NULL;
		}
		return trimmed(v, nlen, len);
	}
	if (d->header) {
		if ((name = sv_expand_z(c, d->header, &nlen)) == NULL) {
			*bad = 1;
			return NULL;
		}
		if (!sv_header_name_valid(name, nlen))
			return NULL;
	}
	memset(&vals, 0, sizeof(vals));
	if (sv_header_values(c, name, &vals) < 0) {
		sv_vals_free(&vals);
		*bad = 1;
		return NULL;
	}
	if (vals.n > 0)
		v = sv_keep_tmp(c, pn_memdup0(vals.v[0], vals.len[0]));
	if (v != NULL)
		v = trimmed(v, vals.len[0], len);
	sv_vals_free(&vals);
	return v;
}

/* hash_part - a length-prefixed part of the key, so parts cannot run together */
static void hash_part(pn_sha256 *h, const char *s, size_t len)
{
	unsigned char n[8];
	int k;

	for (k = 0; k < 8; k++)
		n[k] = (unsigned char)((unsigned long long)len >> (8 * (7 - k)));
	pn_sha256_update(h, n, sizeof(n));
	pn_sha256_update(h, s, len);
}

/* make_key - SHA-256 of recipient, handle and ID */
static void make_key(sv_ctx *c, const char *handle, size_t hlen, const char *id, size_t idlen,
		     unsigned char key[32])
{
	const char *rcpt = c->env->to_addr ? c->env->to_addr->address : c->env->to;
	char *lower = pn_strdup(rcpt ? rcpt : "");
	pn_sha256 *h = pn_sha256_new();
	char *p;

	for (p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	pn_sha256_update(h, "postern-sort duplicate", 23);
	hash_part(h, lower, strlen(lower));
	hash_part(h, handle, hlen);
	hash_part(h, id, idlen);
	pn_sha256_final(h, key);
	pn_sha256_free(h);
	pn_free(lower);
}

/* add_mark - the ID to record after the run, once per key */
static int add_mark(sv_ctx *c, const unsigned char key[32], long seconds, int last)
{
	sv_result *r = c->r;
	size_t i;

	for (i = 0; i < r->nmarks; i++) {
		if (memcmp(r->marks[i].key, key, 32) == 0) {
			r->marks[i].last |= last;
			return 0;
		}
	}
	if (r->nmarks >= c->lim->max_actions)
		return sv_rt_error(c, "more than %u duplicate IDs", c->lim->max_actions);
	if (r->nmarks == r->mcap) {
		r->mcap = r->mcap ? r->mcap * 2 : 4;
		r->marks = pn_realloc(r->marks, r->mcap * sizeof(*r->marks));
	}
	memcpy(r->marks[r->nmarks].key, key, 32);
	r->marks[r->nmarks].seconds = seconds;
	r->marks[r->nmarks].last = last;
	r->nmarks++;
	return 0;
}

/* sv_duplicate_run - 1 when this ID was seen for this recipient in the period */
int sv_duplicate_run(sv_ctx *c, const sv_node *n)
{
	const dup_args *d = n->ext;
	const sv_services *svc = c->env->svc;
	const char *id, *handle = "";
	size_t idlen, hlen = 0;
	unsigned long seconds = c->lim->duplicate_default_period;
	unsigned char key[32];
	time_t now = c->env->now ? c->env->now : time(NULL);
	int bad, seen = 0;

	if (d == NULL) {
		static const dup_args none;
		d = &none;
	}
	if (d->has_seconds)
		seconds = d->seconds < c->lim->duplicate_max_period ? (unsigned long)d->seconds
			  : c->lim->duplicate_max_period;
	if (d->handle && (handle = sv_expand(c, d->handle, &hlen)) == NULL)
		return -1;
	id = the_id(c, d, &idlen, &bad);
	if (bad)
		return -1;
	if (id == NULL || idlen == 0)
		return 0;
	make_key(c, handle, hlen, id, idlen, key);
	if (svc && svc->seen)
		seen = svc->seen(svc->arg, key, now) == 1;	/* an error: not a duplicate */
	if ((!seen || d->last) && add_mark(c, key, (long)seconds, d->last) < 0)
		return -1;
	return seen;
}
