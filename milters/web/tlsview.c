/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	tlsview - TLS partners: their policy and how their sessions went
 * DESCRIPTION
 *	See tlsview.h. The policy is postern-tls's own parse of its file,
 *	looked up the way postern-tls looks it up; the sessions are audit
 *	records read newest file first within a line bound.
 */
#include "milters/web/tlsview.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/domain.h"
#include "milters/audit/jsonval.h"
#include "milters/audit/reader.h"
#include "milters/tls/policy.h"
#include "milters/web/esc.h"

enum { V_PASS, V_REFUSED, V_VIOLATION };

typedef struct counts {
	unsigned long pass, refused, violation;
} counts;

typedef struct session {
	char *ts, *qid, *client, *version, *cipher, *verdict;
	long bits;
	int verified, inbound, kind;
} session;

typedef struct scan {
	const web_tls_opts *o;
	unsigned long lines, max_lines;
	int stopped;
	pn_buf problems;	/* files that could not be read, escaped */
} scan;

/* ---- reading the trail ---- */

typedef void (*record_fn)(json_object *rec, void *arg);
typedef int (*probe_fn)(const char *line, size_t len, void *arg);

static time_t rfc3339(const char *ts)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ts == NULL || strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

/* each_record - message and refused records of the trail, newest file first;
 * fn is called only for lines probe accepts */
static void each_record(scan *sc, char **files, size_t n, probe_fn probe, record_fn fn, void *arg)
{
	size_t f;

	for (f = n; f-- > 0 && !sc->stopped;) {
		char *err = NULL;
		audit_reader *r = audit_reader_open(files[f], &err);
		const char *line;
		size_t len;
		int complete, got;

		if (r == NULL) {
			pn_buf_puts(&sc->problems, "<p class=\"note problem\">");
			web_esc(&sc->problems, err);
			pn_buf_puts(&sc->problems, "</p>\n");
			pn_free(err);
			continue;
		}
		while ((got = audit_reader_line(r, &line, &len, &complete)) == 1) {
			json_tokener *tok;
			json_object *rec;
			const char *ev;

			if (++sc->lines > sc->max_lines) {
				sc->stopped = 1;
				break;
			}
			if (!memmem(line, len, "\"envelope\"", 10) || (probe && !probe(line, len, arg)))
				continue;
			tok = json_tokener_new();
			rec = json_tokener_parse_ex(tok, line, (int)(len > 0x7fffffff ? 0x7fffffff : len));
			json_tokener_free(tok);
			ev = jv_str(rec, "event");
			if (ev && (strcmp(ev, "message") == 0 || strcmp(ev, "refused") == 0)
			    && (sc->o->since == 0 || rfc3339(jv_str(rec, "ts")) >= sc->o->since))
				fn(rec, arg);
			json_object_put(rec);
		}
		audit_reader_close(r, &err);
		pn_free(err);
	}
}

/* addr_domain - the normalised domain of an address, or NULL */
static char *addr_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at && at[1] ? pn_domain_normalise(at + 1) : NULL;
}

/* tls_verdict - postern-tls's verdict for this record and a domain:
 * its note when the record has one, else judged from the TLS facts */
static int judge(json_object *rec, const char *domain, int inbound, const ptls_policy *p,
		 const char **word)
{
	json_object *ref = jv_member(rec, "refusal"), *tls = jv_member(rec, "tls");
	json_object *note = jv_member(jv_member(rec, "engines"), "tls");
	const char *v = NULL, *by = jv_str(ref, "by"), *ev = jv_str(rec, "event");
	json_object *ver;

	if (ev && strcmp(ev, "refused") == 0 && by && strcmp(by, "tls") == 0) {
		*word = jv_str(ref, "verdict") ? jv_str(ref, "verdict") : "refused";
		return V_REFUSED;
	}
	if (inbound) {
		v = jv_str(note, "verdict");
	} else if (jv_str(note, "rcpt")) {
		/* "DOMAIN=VERDICT, DOMAIN=VERDICT" */
		const char *r = jv_str(note, "rcpt"), *hit;
		size_t dl = strlen(domain);

		for (hit = r; (hit = strstr(hit, domain)) != NULL; hit++)
			if ((hit == r || hit[-1] == ' ') && hit[dl] == '=') {
				static const char *const words[] = { "pass", "reject", "tempfail", "hold",
								     "tag", "log", "none", NULL };
				size_t i;

				for (i = 0; words[i]; i++)
					if (strncmp(hit + dl + 1, words[i], strlen(words[i])) == 0)
						v = words[i];
				break;
			}
	}
	if (v) {
		*word = v;
		if (strcmp(v, "pass") == 0 || strcmp(v, "none") == 0)
			return V_PASS;
		if (strcmp(v, "reject") == 0 || strcmp(v, "tempfail") == 0)
			return V_REFUSED;
		return V_VIOLATION;
	}
	if (ev && strcmp(ev, "refused") == 0) {
		*word = "refused (not by tls)";
		return V_PASS;
	}
	/* No verdict in the record (a standalone postern-audit): the facts
	 * against the rule's main terms. */
	if (p && inbound) {
		const char *version = jv_str(tls, "version");

		ver = jv_member(tls, "verified");
		if (p->tls_required && version == NULL) {
			*word = "no TLS";
			return V_VIOLATION;
		}
		if (version && p->min_version && ptls_version_parse(version) < p->min_version) {
			*word = "TLS version too old";
			return V_VIOLATION;
		}
		if (p->verify && !(ver && json_object_get_boolean(ver))) {
			*word = "certificate not verified";
			return V_VIOLATION;
		}
	}
	*word = "pass";
	return V_PASS;
}

static void count(counts *c, int kind)
{
	if (kind == V_PASS)
		c->pass++;
	else if (kind == V_REFUSED)
		c->refused++;
	else
		c->violation++;
}

/* ---- the partners table ---- */

typedef struct partners {
	const ptls_policy_set *set;
	counts *per;	/* one per set->items */
} partners;

static size_t policy_index(const ptls_policy_set *s, const ptls_policy *p)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		if (s->items[i] == p)
			return i;
	return s->count;
}

/* one record: each policy it falls under counted once, by its first domain */
static void partners_record(json_object *rec, void *arg)
{
	partners *pa = arg;
	json_object *env = jv_member(rec, "envelope"), *rcpt = jv_member(env, "rcpt");
	size_t n = rcpt && json_object_is_type(rcpt, json_type_array) ? json_object_array_length(rcpt) : 0;
	size_t i, k, seen_n = 0;
	size_t seen[64];

	for (i = 0; i <= n && i <= 1000; i++) {
		json_object *a = i == 0 ? jv_member(env, "from") : json_object_array_get_idx(rcpt, i - 1);
		char *d = addr_domain(a && json_object_is_type(a, json_type_string)
				      ? json_object_get_string(a) : NULL);
		const ptls_policy *p = d ? ptls_policy_lookup(pa->set, d) : NULL;
		const char *word;

		if (p && (p->direction & (i == 0 ? PTLS_DIR_INBOUND : PTLS_DIR_OUTBOUND))) {
			size_t idx = policy_index(pa->set, p);

			for (k = 0; k < seen_n && seen[k] != idx; k++)
				;
			if (k == seen_n && idx < pa->set->count) {
				if (seen_n < sizeof(seen) / sizeof(seen[0]))
					seen[seen_n++] = idx;
				count(&pa->per[idx], judge(rec, d, i == 0, p, &word));
			}
		}
		pn_free(d);
	}
}

static void rule_text(pn_buf *b, const ptls_policy *p)
{
	pn_buf t;

	pn_buf_init(&t, 0);
	pn_buf_printf(&t, "tls=%s", p->tls_required ? "required" : "optional");
	if (p->min_version)
		pn_buf_printf(&t, " min_version=%s", ptls_version_name(p->min_version));
	if (p->min_bits)
		pn_buf_printf(&t, " min_bits=%d", p->min_bits);
	if (p->ciphers)
		pn_buf_printf(&t, " ciphers=%s", p->ciphers);
	if (p->verify)
		pn_buf_puts(&t, " verify=yes");
	if (p->subject_text)
		pn_buf_printf(&t, " cert_subject=\"%s\"", p->subject_text);
	if (p->issuer_text)
		pn_buf_printf(&t, " cert_issuer=\"%s\"", p->issuer_text);
	if (p->clients_text)
		pn_buf_printf(&t, " clients=%s", p->clients_text);
	pn_buf_printf(&t, " direction=%s", p->direction == PTLS_DIR_BOTH ? "both"
		      : p->direction == PTLS_DIR_OUTBOUND ? "outbound" : "inbound");
	pn_buf_printf(&t, " action=%s", ptls_action_name(p->action));
	if (p->outbound != PTLS_LEVEL_UNSET)
		pn_buf_printf(&t, " outbound=%s", ptls_level_name(p->outbound));
	web_esc(b, pn_buf_str(&t));
	pn_buf_free(&t);
}

static void url_arg(pn_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			pn_buf_putc(b, c);
		} else {
			pn_buf_putc(b, '%');
			pn_buf_putc(b, hex[c >> 4]);
			pn_buf_putc(b, hex[c & 15]);
		}
	}
}

static void bound_note(pn_buf *out, const scan *sc)
{
	if (sc->stopped)
		pn_buf_printf(out, "<p class=\"note\" id=\"sessions-bound\">Counted from the newest "
			      "%lu lines of the audit trail.</p>\n", sc->max_lines);
	pn_buf_append(out, pn_buf_str(&sc->problems), pn_buf_len(&sc->problems));
}

static void scan_init(scan *sc, const web_tls_opts *o)
{
	memset(sc, 0, sizeof(*sc));
	sc->o = o;
	sc->max_lines = o->max_lines ? o->max_lines : WEB_TLS_MAX_LINES;
	pn_buf_init(&sc->problems, 0);
}

int web_tls_partners(pn_buf *out, const char *policy_file, char **trail_files, size_t n,
		     const web_tls_opts *o, char **err)
{
	static const web_tls_opts none;
	ptls_policy_set *set = NULL;
	partners pa;
	scan sc;
	size_t i;

	*err = NULL;
	if (o == NULL)
		o = &none;
	if (policy_file && *policy_file && (set = ptls_policy_load(policy_file, err)) == NULL)
		return -1;
	scan_init(&sc, o);
	pn_buf_puts(out, "<table id=\"partners\">\n<thead><tr><th>Domain</th><th>Rule</th>"
		    "<th>Compliant</th><th>Refused</th><th>Other violations</th></tr></thead>\n"
		    "<tbody>\n");
	if (set && set->count) {
		pa.set = set;
		pa.per = pn_calloc(set->count, sizeof(*pa.per));
		each_record(&sc, trail_files, n, NULL, partners_record, &pa);
		for (i = 0; i < set->count; i++) {
			const ptls_policy *p = set->items[i];

			pn_buf_puts(out, "<tr class=\"partner\"><td class=\"domain\">");
			if (strcmp(p->key, "*") != 0) {
				pn_buf_puts(out, "<a href=\"/tls?domain=");
				url_arg(out, p->key);
				pn_buf_puts(out, "\">");
				web_esc(out, p->key);
				pn_buf_puts(out, "</a>");
			} else {
				pn_buf_puts(out, "* (every other domain)");
			}
			pn_buf_puts(out, "</td><td class=\"rule\">");
			rule_text(out, p);
			pn_buf_printf(out, "</td><td class=\"compliant\">%lu</td><td class=\"refused\">"
				      "%lu</td><td class=\"violations\">%lu</td></tr>\n", pa.per[i].pass,
				      pa.per[i].refused, pa.per[i].violation);
		}
		pn_free(pa.per);
	}
	pn_buf_puts(out, "</tbody>\n</table>\n");
	if (set == NULL || set->count == 0)
		pn_buf_puts(out, "<p class=\"note\" id=\"no-partners\">No TLS policy is configured "
			    "(tls_policy in web.conf).</p>\n");
	bound_note(out, &sc);
	pn_buf_free(&sc.problems);
	ptls_policy_free(set);
	return 0;
}

/* ---- one partner ---- */

typedef struct partner {
	const char *domain;	/* normalised */
	int subdomains;		/* ".D": every subdomain, not D */
	const ptls_policy *p;
	counts c;
	session *ring;		/* the newest sessions of the file being read */
	size_t ring_n, ring_head, ring_cap;
	session *list;		/* kept, newest first */
	size_t list_n, max;
} partner;

static int domain_is(const partner *pt, const char *d)
{
	size_t dl, pl;

	if (d == NULL)
		return 0;
	if (!pt->subdomains)
		return strcmp(d, pt->domain) == 0;
	dl = strlen(d);
	pl = strlen(pt->domain);
	return dl > pl + 1 && d[dl - pl - 1] == '.' && strcmp(d + dl - pl, pt->domain) == 0;
}

/* the line may name the domain: a case-insensitive substring test, skipped
 * for IDN (the record may spell it as a U-label) */
static int partner_probe(const char *line, size_t len, void *arg)
{
	const partner *pt = arg;
	size_t dl = strlen(pt->domain), i;

	if (strstr(pt->domain, "xn--"))
		return 1;
	for (i = 0; i + dl <= len; i++)
		if (strncasecmp(line + i, pt->domain, dl) == 0)
			return 1;
	return 0;
}

static void session_free(session *s)
{
	pn_free(s->ts);
	pn_free(s->qid);
	pn_free(s->client);
	pn_free(s->version);
	pn_free(s->cipher);
	pn_free(s->verdict);
	memset(s, 0, sizeof(*s));
}

static char *dup_or_null(const char *s)
{
	return s ? pn_strdup(s) : NULL;
}

static void partner_record(json_object *rec, void *arg)
{
	partner *pt = arg;
	json_object *env = jv_member(rec, "envelope"), *rcpt = jv_member(env, "rcpt");
	json_object *tls = jv_member(rec, "tls"), *client = jv_member(rec, "client"), *x;
	size_t n = rcpt && json_object_is_type(rcpt, json_type_array) ? json_object_array_length(rcpt) : 0;
	size_t i;
	int inbound = -1, kind;
	char *d, *hit = NULL;
	const char *word;
	session s;

	for (i = 0; i <= n && i <= 1000 && inbound < 0; i++) {
		json_object *a = i == 0 ? jv_member(env, "from") : json_object_array_get_idx(rcpt, i - 1);

		d = addr_domain(a && json_object_is_type(a, json_type_string) ? json_object_get_string(a)
								     : NULL);
		if (domain_is(pt, d)) {
			inbound = i == 0;
			hit = d;
		} else {
			pn_free(d);
		}
	}
	if (inbound < 0)
		return;
	kind = judge(rec, hit, inbound, pt->p, &word);
	count(&pt->c, kind);
	pn_free(hit);
	if (pt->ring_cap == 0)
		return;
	memset(&s, 0, sizeof(s));
	s.ts = dup_or_null(jv_str(rec, "ts"));
	s.qid = dup_or_null(jv_str(rec, "queue_id"));
	s.client = dup_or_null(jv_str(client, "ip"));
	s.version = dup_or_null(jv_str(tls, "version"));
	s.cipher = dup_or_null(jv_str(tls, "cipher"));
	s.verdict = pn_strdup(word);
	x = jv_member(tls, "bits");
	s.bits = x && json_object_is_type(x, json_type_int) ? (long)json_object_get_int64(x) : -1;
	x = jv_member(tls, "verified");
	s.verified = x && json_object_is_type(x, json_type_boolean) && json_object_get_boolean(x);
	s.inbound = inbound;
	s.kind = kind;
	/* within a file the newest come last: keep the last ring_cap */
	if (pt->ring_n == pt->ring_cap) {
		session_free(&pt->ring[pt->ring_head]);
		pt->ring[pt->ring_head] = s;
		pt->ring_head = (pt->ring_head + 1) % pt->ring_cap;
	} else {
		pt->ring[(pt->ring_head + pt->ring_n) % pt->ring_cap] = s;
		pt->ring_n++;
	}
}

/* the file's kept sessions go after the newer files' ones, newest first */
static void flush_ring(partner *pt)
{
	while (pt->ring_n > 0) {
		size_t last = (pt->ring_head + pt->ring_n - 1) % pt->ring_cap;

		pt->list[pt->list_n++] = pt->ring[last];
		memset(&pt->ring[last], 0, sizeof(session));
		pt->ring_n--;
	}
	pt->ring_head = 0;
	pt->ring_cap = pt->max - pt->list_n;
}

static void td(pn_buf *b, const char *cls, const char *text)
{
	pn_buf_printf(b, "<td class=\"%s\">", cls);
	web_esc(b, text ? text : "");
	pn_buf_puts(b, "</td>");
}

int web_tls_partner(pn_buf *out, const char *domain, const char *policy_file, char **trail_files,
		    size_t n, const web_tls_opts *o, char **err)
{
	static const web_tls_opts none;
	static const char *const kinds[] = { "compliant", "refused", "violation" };
	ptls_policy_set *set = NULL;
	partner pt;
	scan sc;
	char *norm;
	size_t i, f;
	int sub;

	*err = NULL;
	if (o == NULL)
		o = &none;
	sub = domain && domain[0] == '.';
	norm = domain ? pn_domain_normalise(domain + sub) : NULL;
	if (norm == NULL) {
		*err = pn_strdup("not a domain name");
		return -1;
	}
	if (policy_file && *policy_file && (set = ptls_policy_load(policy_file, err)) == NULL) {
		pn_free(norm);
		return -1;
	}
	memset(&pt, 0, sizeof(pt));
	pt.domain = norm;
	pt.subdomains = sub;
	if (set) {
		char *key = pn_asprintf("%s%s", sub ? "." : "", norm);

		/* ".D" is a key, not a domain: the line with that very key */
		if (sub) {
			for (i = 0; i < set->count; i++)
				if (strcmp(set->items[i]->key, key) == 0)
					pt.p = set->items[i];
		} else {
			pt.p = ptls_policy_lookup(set, norm);
		}
		pn_free(key);
	}
	pt.max = o->max_sessions ? o->max_sessions : WEB_TLS_MAX_SESSIONS;
	pt.list = pn_calloc(pt.max, sizeof(session));
	pt.ring = pn_calloc(pt.max, sizeof(session));
	pt.ring_cap = pt.max;
	scan_init(&sc, o);
	/* one file at a time, so each file's newest sessions are kept in order */
	for (f = n; f-- > 0 && !sc.stopped;) {
		each_record(&sc, trail_files + f, 1, partner_probe, partner_record, &pt);
		flush_ring(&pt);
	}

	pn_buf_puts(out, "<div id=\"compliance\"><p class=\"rule\">");
	if (pt.p) {
		pn_buf_puts(out, "Policy ");
		web_esc(out, pt.p->key);
		pn_buf_printf(out, " (line %u): ", pt.p->line);
		rule_text(out, pt.p);
	} else {
		pn_buf_puts(out, "No TLS policy line applies to ");
		web_esc(out, sub ? domain : norm);
		pn_buf_puts(out, ".");
	}
	pn_buf_printf(out, "</p>\n<p class=\"summary\">%lu sessions: %lu compliant, %lu refused, "
		      "%lu other violations.</p></div>\n", pt.c.pass + pt.c.refused + pt.c.violation,
		      pt.c.pass, pt.c.refused, pt.c.violation);
	pn_buf_puts(out, "<table id=\"sessions\">\n<thead><tr><th>Time</th><th>Queue id</th>"
		    "<th>Direction</th><th>Client</th><th>TLS version</th><th>Cipher</th>"
		    "<th>Bits</th><th>Certificate</th><th>Verdict</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < pt.list_n; i++) {
		session *s = &pt.list[i];

		pn_buf_puts(out, "<tr class=\"session\">");
		td(out, "time", s->ts);
		td(out, "queue-id", s->qid);
		td(out, "direction", s->inbound ? "inbound" : "outbound");
		td(out, "client", s->client);
		td(out, "version", s->version ? s->version : "none");
		td(out, "cipher", s->cipher);
		if (s->bits >= 0)
			pn_buf_printf(out, "<td class=\"bits\">%ld</td>", s->bits);
		else
			td(out, "bits", "");
		td(out, "verified", s->version ? (s->verified ? "verified" : "not verified") : "");
		pn_buf_printf(out, "<td class=\"verdict %s\">", kinds[s->kind]);
		web_esc(out, s->verdict);
		pn_buf_puts(out, "</td></tr>\n");
		session_free(s);
	}
	pn_buf_puts(out, "</tbody>\n</table>\n");
	bound_note(out, &sc);
	for (i = 0; i < pt.max; i++)
		session_free(&pt.ring[i]);
	pn_free(pt.ring);
	pn_free(pt.list);
	pn_buf_free(&sc.problems);
	ptls_policy_free(set);
	pn_free(norm);
	return 0;
}
