/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report - text, JSON and RFC 8460 output of the ledger (see report.h)
 *
 * The rows come from one query (summed over the days asked for, ordered
 * by partner and direction); each output walks them once per partner.
 * JSON is built with json-c, so every string is escaped by the library.
 */
#include "milters/tls/report.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "milters/tls/sts.h"

#include <json-c/json.h>
#include <openssl/rand.h>
#include <string.h>

typedef struct row {
	char *partner, *direction, *result, *tls, *cipher, *trust, *failure, *mx_host, *detail;
	long long n;
} row;

typedef struct rows {
	row *v;
	size_t count, cap;
} rows;

/* collect - keep a copy of each row */
static int collect(void *arg, const ptls_ledger_row *r)
{
	rows *rs = arg;
	row *x;

	if (rs->count == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->v = pn_realloc(rs->v, rs->cap * sizeof(row));
	}
	x = &rs->v[rs->count++];
	x->partner = pn_strdup(r->partner ? r->partner : "");
	x->direction = pn_strdup(r->direction ? r->direction : "");
	x->result = pn_strdup(r->result ? r->result : "");
	x->tls = pn_strdup(r->tls ? r->tls : "");
	x->cipher = pn_strdup(r->cipher ? r->cipher : "");
	x->trust = pn_strdup(r->trust ? r->trust : "");
	x->failure = pn_strdup(r->failure ? r->failure : "");
	x->mx_host = pn_strdup(r->mx_host ? r->mx_host : "");
	x->detail = pn_strdup(r->detail ? r->detail : "");
	x->n = r->n;
	return 0;
}

/* rows_free - the copies */
static void rows_free(rows *rs)
{
	size_t i;

	for (i = 0; i < rs->count; i++) {
		row *x = &rs->v[i];
		pn_free(x->partner);
		pn_free(x->direction);
		pn_free(x->result);
		pn_free(x->tls);
		pn_free(x->cipher);
		pn_free(x->trust);
		pn_free(x->failure);
		pn_free(x->mx_host);
		pn_free(x->detail);
	}
	pn_free(rs->v);
}

/* ptls_report_format_parse - "text", "json" or "rfc8460"; -1 otherwise */
int ptls_report_format_parse(const char *s)
{
	return strcmp(s, "text") == 0 ? PTLS_REPORT_TEXT : strcmp(s, "json") == 0 ? PTLS_REPORT_JSON
	       : strcmp(s, "rfc8460") == 0 ? PTLS_REPORT_RFC8460 : -1;
}

/* end_of - the first row after [i] of another partner (and direction when by_dir) */
static size_t end_of(const rows *rs, size_t i, int by_dir)
{
	size_t j = i;

	while (j < rs->count && strcmp(rs->v[j].partner, rs->v[i].partner) == 0
	       && (!by_dir || strcmp(rs->v[j].direction, rs->v[i].direction) == 0))
		j++;
	return j;
}

/* results_line - "N sessions: 2 compliant, 1 refused" of rows [i, j) */
static void results_line(const rows *rs, size_t i, size_t j, pn_buf *b)
{
	long long total = 0, n;
	size_t k, m;

	for (k = i; k < j; k++)
		total += rs->v[k].n;
	pn_buf_printf(b, "%lld session%s", total, total == 1 ? "" : "s");
	/* results in order of first appearance (rows are sorted by result) */
	for (k = i; k < j; k = m) {
		n = 0;
		for (m = k; m < j && strcmp(rs->v[m].result, rs->v[k].result) == 0; m++)
			n += rs->v[m].n;
		pn_buf_printf(b, "%s%lld %s", k == i ? ": " : ", ", n, rs->v[k].result);
	}
}

/* report_text - for people */
static void report_text(const rows *rs, const ptls_report_opts *o, FILE *out)
{
	size_t i, j, p, k;
	pn_buf b;

	fprintf(out, "TLS ledger, UTC days %s to %s%s%s\n", o->since ? o->since : "(first)",
		o->until ? o->until : "(last)", o->partner ? ", partner " : "",
		o->partner ? o->partner : "");
	if (rs->count == 0)
		fprintf(out, "no sessions\n");
	pn_buf_init(&b, 0);
	for (p = 0; p < rs->count; p = end_of(rs, p, 0)) {
		fprintf(out, "\n%s\n", rs->v[p].partner);
		for (i = p; i < end_of(rs, p, 0); i = j) {
			j = end_of(rs, i, 1);
			pn_buf_reset(&b);
			results_line(rs, i, j, &b);
			fprintf(out, "  %-8s  %s\n", rs->v[i].direction, pn_buf_str(&b));
			for (k = i; k < j; k++) {
				const row *x = &rs->v[k];
				if (strcmp(x->tls, "none") == 0)
					fprintf(out, "    %6lld  %-9s  no TLS", x->n, x->result);
				else
					fprintf(out, "    %6lld  %-9s  %s%s%s %s", x->n, x->result,
						x->tls, *x->cipher ? " " : "", x->cipher, x->trust);
				if (*x->failure)
					fprintf(out, "  %s", x->failure);
				if (*x->mx_host)
					fprintf(out, "  mx %s", x->mx_host);
				if (*x->detail)
					fprintf(out, ": %s", x->detail);
				fputc('\n', out);
			}
		}
	}
	pn_buf_free(&b);
}

/* direction_json - {"sessions", "results", "rows"} of one partner's rows in a direction */
static json_object *direction_json(const rows *rs, size_t p, const char *dir)
{
	json_object *d = json_object_new_object(), *results = json_object_new_object(),
		    *list = json_object_new_array(), *r, *old;
	long long total = 0;
	size_t k;

	for (k = p; k < end_of(rs, p, 0); k++) {
		const row *x = &rs->v[k];
		if (strcmp(x->direction, dir) != 0)
			continue;
		total += x->n;
		if (json_object_object_get_ex(results, x->result, &old))
			json_object_object_add(results, x->result,
					       json_object_new_int64(json_object_get_int64(old) + x->n));
		else
			json_object_object_add(results, x->result, json_object_new_int64(x->n));
		r = json_object_new_object();
		json_object_object_add(r, "result", json_object_new_string(x->result));
		json_object_object_add(r, "tls", json_object_new_string(x->tls));
		json_object_object_add(r, "cipher", json_object_new_string(x->cipher));
		json_object_object_add(r, "trust", json_object_new_string(x->trust));
		json_object_object_add(r, "failure", json_object_new_string(x->failure));
		json_object_object_add(r, "mx_host", json_object_new_string(x->mx_host));
		json_object_object_add(r, "detail", json_object_new_string(x->detail));
		json_object_object_add(r, "count", json_object_new_int64(x->n));
		json_object_array_add(list, r);
	}
	json_object_object_add(d, "sessions", json_object_new_int64(total));
	json_object_object_add(d, "results", results);
	json_object_object_add(d, "rows", list);
	return d;
}

/* report_json - for scripts */
static json_object *report_json(const rows *rs, const ptls_report_opts *o)
{
	json_object *top = json_object_new_object(), *partners = json_object_new_array(), *pj;
	size_t p;

	json_object_object_add(top, "since", o->since ? json_object_new_string(o->since) : NULL);
	json_object_object_add(top, "until", o->until ? json_object_new_string(o->until) : NULL);
	for (p = 0; p < rs->count; p = end_of(rs, p, 0)) {
		pj = json_object_new_object();
		json_object_object_add(pj, "domain", json_object_new_string(rs->v[p].partner));
		json_object_object_add(pj, "inbound", direction_json(rs, p, "inbound"));
		json_object_object_add(pj, "outbound", direction_json(rs, p, "outbound"));
		json_object_array_add(partners, pj);
	}
	json_object_object_add(top, "partners", partners);
	return top;
}

/* policy_strings - Postern's static rule for the domain as "key: value" lines */
static json_object *policy_strings(const ptls_report_opts *o, const char *domain)
{
	json_object *a = json_object_new_array();
	const ptls_policy *p = o->policy ? ptls_policy_lookup(o->policy, domain) : NULL;
	char *s;
	int level;

	if (p == NULL) {
		json_object_array_add(a, json_object_new_string("postern-tls: no rule"));
		return a;
	}
	json_object_array_add(a, json_object_new_string("postern-tls: static rule"));
	s = pn_asprintf("rule: %s (%s line %u)", p->key, p->file, p->line);
	json_object_array_add(a, json_object_new_string(s));
	pn_free(s);
	level = ptls_policy_export_level(p);
	if (level != PTLS_LEVEL_UNSET) {
		s = pn_asprintf("outbound: %s", ptls_level_name(level));
		json_object_array_add(a, json_object_new_string(s));
		pn_free(s);
	}
	if (p->min_version) {
		s = pn_asprintf("min_version: %s", ptls_version_name(p->min_version));
		json_object_array_add(a, json_object_new_string(s));
		pn_free(s);
	}
	if (p->match) {
		s = pn_asprintf("match: %s", p->match);
		json_object_array_add(a, json_object_new_string(s));
		pn_free(s);
	}
	return a;
}

/* in_array - the string is already in the json array */
static int in_array(json_object *a, const char *s)
{
	size_t i;

	for (i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
			return 1;
	return 0;
}

/* sts_policy - the partner's MTA-STS policy in the daemon's cache, when
 * no static rule wins over it (a line with outbound=sts, or none); NULL
 * otherwise or when nothing is cached (free with ptls_sts_policy_free) */
static ptls_sts_policy *sts_policy(const ptls_report_opts *o, const char *domain)
{
	const ptls_policy *rule = o->policy ? ptls_policy_lookup(o->policy, domain) : NULL;
	ptls_sts_policy *sp = NULL;
	char id[PTLS_STS_ID_MAX + 1];

	if (o->sts_cache_file == NULL || *o->sts_cache_file == '\0' || (rule && !rule->sts))
		return NULL;
	if (ptls_sts_cache_lookup(o->sts_cache_file, domain, &sp, id) != 1)
		return NULL;
	return sp;
}

/*
 * testing_failure - what a session delivered under an MTA-STS policy in
 * testing mode would have failed on: Postfix was told no policy (RFC 8461
 * 5: testing only reports), so the ledger has no failure for it, but the
 * report to the partner counts it (RFC 8460 4.3)
 */
static void testing_failure(const ptls_sts_policy *sp, const row *x, const char **failure,
			    const char **detail)
{
	if (strcmp(x->result, "delivered") != 0)
		return;
	if (strcmp(x->tls, "none") == 0) {
		*failure = "starttls-not-supported";
		*detail = "delivered in plain text under an MTA-STS policy in testing mode";
	} else if (*x->mx_host && !ptls_sts_mx_match(sp, x->mx_host)) {
		*failure = "validation-failure";
		*detail = "MX host not listed in the MTA-STS policy (testing mode)";
	} else if (strcmp(x->trust, "verified") != 0 && strcmp(x->trust, "trusted") != 0) {
		*failure = "certificate-not-trusted";
		*detail = "certificate not trusted (MTA-STS policy in testing mode)";
	}
}

/* sts_strings - the policy as published, one field a line (RFC 8460 4.4) */
static json_object *sts_strings(const ptls_sts_policy *sp)
{
	json_object *a = json_object_new_array();
	char *text = ptls_sts_policy_text(sp), *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		json_object_array_add(a, json_object_new_string(line));
	pn_free(text);
	return a;
}

/* report_rfc8460 - the aggregate report (RFC 8460 section 4) over outbound sessions */
static json_object *report_rfc8460(const rows *rs, const ptls_report_opts *o, const char *first)
{
	json_object *top = json_object_new_object(), *range = json_object_new_object(),
		    *policies = json_object_new_array();
	char today[11], *start, *end, *id = NULL;
	unsigned char rnd[8];
	size_t p, k, f;
	struct tm tm;

	gmtime_r(&o->now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	start = pn_asprintf("%sT00:00:00Z", o->since ? o->since : first ? first : today);
	end = pn_asprintf("%sT23:59:59Z", o->until ? o->until : today);
	json_object_object_add(top, "organization-name", json_object_new_string(o->organization));
	json_object_object_add(range, "start-datetime", json_object_new_string(start));
	json_object_object_add(range, "end-datetime", json_object_new_string(end));
	json_object_object_add(top, "date-range", range);
	json_object_object_add(top, "contact-info", json_object_new_string(o->contact));
	if (o->report_id == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			memset(rnd, 0, sizeof(rnd));
		id = pn_asprintf("%s_%s_%s_%02x%02x%02x%02x%02x%02x%02x%02x", start, end,
				 o->organization, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
				 rnd[6], rnd[7]);
	}
	json_object_object_add(top, "report-id", json_object_new_string(id ? id : o->report_id));
	pn_free(id);
	for (p = 0; p < rs->count; p = end_of(rs, p, 0)) {
		json_object *entry, *pol, *sum, *details, *mx;
		ptls_sts_policy *sts;
		long long ok = 0, failed = 0;
		int any = 0;

		for (k = p; k < end_of(rs, p, 0); k++)
			any |= strcmp(rs->v[k].direction, "outbound") == 0;
		if (!any)
			continue;
		entry = json_object_new_object();
		pol = json_object_new_object();
		sum = json_object_new_object();
		details = json_object_new_array();
		mx = json_object_new_array();
		sts = sts_policy(o, rs->v[p].partner);
		json_object_object_add(pol, "policy-type",
				       json_object_new_string(sts ? "sts" : "no-policy-found"));
		json_object_object_add(pol, "policy-string",
				       sts ? sts_strings(sts) : policy_strings(o, rs->v[p].partner));
		json_object_object_add(pol, "policy-domain", json_object_new_string(rs->v[p].partner));
		/* RFC 8460 4.4: for "sts", mx-host lists the policy's mx patterns */
		for (k = 0; sts && k < sts->mx_count; k++)
			json_object_array_add(mx, json_object_new_string(sts->mx[k]));
		for (k = p; k < end_of(rs, p, 0); k++) {
			const row *x = &rs->v[k];
			const char *failure = x->failure, *detail = x->detail;
			json_object *d = NULL;
			if (strcmp(x->direction, "outbound") != 0)
				continue;
			if (*failure == '\0' && sts && sts->mode == PTLS_STS_MODE_TESTING)
				testing_failure(sts, x, &failure, &detail);
			if (!sts && *x->mx_host && !in_array(mx, x->mx_host))
				json_object_array_add(mx, json_object_new_string(x->mx_host));
			if (*failure == '\0') {
				if (strcmp(x->result, "delivered") == 0 && strcmp(x->tls, "none") != 0)
					ok += x->n;
				continue;
			}
			failed += x->n;
			/* one failure-details entry per result type, MX and reason */
			for (f = 0; f < json_object_array_length(details); f++) {
				json_object *e = json_object_array_get_idx(details, f), *v;
				json_object_object_get_ex(e, "result-type", &v);
				if (strcmp(json_object_get_string(v), failure) != 0)
					continue;
				if (!json_object_object_get_ex(e, "receiving-mx-hostname", &v))
					v = NULL;
				if (strcmp(v ? json_object_get_string(v) : "", x->mx_host) != 0)
					continue;
				if (!json_object_object_get_ex(e, "failure-reason-code", &v))
					v = NULL;
				if (strcmp(v ? json_object_get_string(v) : "", detail) != 0)
					continue;
				d = e;
				break;
			}
			if (d) {
				json_object *v;
				json_object_object_get_ex(d, "failed-session-count", &v);
				json_object_object_add(d, "failed-session-count",
						       json_object_new_int64(json_object_get_int64(v)
									     + x->n));
				continue;
			}
			d = json_object_new_object();
			json_object_object_add(d, "result-type", json_object_new_string(failure));
			if (*x->mx_host)
				json_object_object_add(d, "receiving-mx-hostname",
						       json_object_new_string(x->mx_host));
			json_object_object_add(d, "failed-session-count", json_object_new_int64(x->n));
			if (*detail)
				json_object_object_add(d, "failure-reason-code",
						       json_object_new_string(detail));
			json_object_array_add(details, d);
		}
		json_object_object_add(pol, "mx-host", mx);
		json_object_object_add(sum, "total-successful-session-count", json_object_new_int64(ok));
		json_object_object_add(sum, "total-failure-session-count", json_object_new_int64(failed));
		json_object_object_add(entry, "policy", pol);
		json_object_object_add(entry, "summary", sum);
		json_object_object_add(entry, "failure-details", details);
		json_object_array_add(policies, entry);
		if (sts)
			ptls_sts_policy_free(sts);
	}
	json_object_object_add(top, "policies", policies);
	pn_free(start);
	pn_free(end);
	return top;
}

/* ptls_report - print the ledger (see report.h) */
int ptls_report(ptls_ledger *l, const ptls_report_opts *o, FILE *out, char **err)
{
	rows rs = {NULL, 0, 0};
	json_object *j = NULL;
	char first[11];

	if (ptls_ledger_query(l, o->since, o->until, o->partner, collect, &rs, err) < 0) {
		rows_free(&rs);
		return -1;
	}
	switch (o->format) {
	case PTLS_REPORT_JSON:
		j = report_json(&rs, o);
		break;
	case PTLS_REPORT_RFC8460:
		j = report_rfc8460(&rs, o, ptls_ledger_first_day(l, o->partner, first) ? first : NULL);
		break;
	default:
		report_text(&rs, o, out);
		break;
	}
	if (j) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY
								     | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	}
	rows_free(&rs);
	return 0;
}
