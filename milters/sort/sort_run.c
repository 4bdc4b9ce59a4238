/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_run - postern-sort's runs: every recipient's chain of scripts
 *
 * sort_env_items() builds the environment items (RFC 5183 and Postern's
 * vnd.postern.*) from what the MTA told. sort_run() picks, per recipient,
 * the global, per-domain and per-recipient scripts (templates expanded
 * from the canonical address, files taken from sort_cache.c), runs them
 * with that recipient as envelope "to", and turns each result's header
 * view into milter modifications: the first recipient's are kept, the
 * others' are only compared with them (the header section is shared).
 * What the results become is sort_apply.c's job.
 */
#include "milters/sort/sort_int.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/geoip.h"
#include "common/log.h"
#include "milters/sort/sort_store.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "0"
#endif

/* safe_component - a recipient part that may appear in a file name */
static int safe_component(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '.' || *s == '"')
		return 0;
	for (p = s; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* expand_template - script path for a recipient, or NULL: %d is the
 * canonical domain (lower case, A-labels), %u the local part as the MTA
 * gave it, without detail, in lower case (never a quoted one) */
static char *expand_template(const sort_state *st, const char *tmpl, const sort_rcpt *rc)
{
	char *user = NULL, *detail = NULL, *p;
	const char *t;
	pn_buf b;
	int ok = 1;

	if (tmpl == NULL || *tmpl == '\0' || !rc->view_ok)
		return NULL;
	pn_addr_split_sub(rc->view.local, st->delim, &user, &detail);
	for (p = user; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	pn_buf_init(&b, 4096);
	for (t = tmpl; *t && ok; t++) {
		if (*t != '%') {
			pn_buf_putc(&b, *t);
			continue;
		}
		t++;
		if (*t == 'd') {
			ok = safe_component(rc->canon->domain);
			pn_buf_puts(&b, rc->canon->domain);
		} else if (*t == 'u') {
			ok = safe_component(user);
			pn_buf_puts(&b, user);
		} else if (*t == '%') {
			pn_buf_putc(&b, '%');
		} else {
			ok = 0;
		}
	}
	pn_free(user);
	pn_free(detail);
	if (!ok) {
		pn_buf_free(&b);
		return NULL;
	}
	return pn_buf_steal(&b, NULL);
}

/* push - append one name/value pair */
static void push(char ***v, size_t *n, const char *name, const char *value)
{
	*v = pn_realloc(*v, (*n + 3) * sizeof(**v));
	(*v)[(*n)++] = pn_strdup(name);
	(*v)[(*n)++] = pn_strdup(value ? value : "");
	(*v)[*n] = NULL;
}

/* sort_env_items - the environment items of RFC 5183 and Postern's own */
char **sort_env_items(const sort_state *st, const sort_facts *f)
{
	char **v = NULL;
	size_t n = 0;
	const char *host = f->mta_host && *f->mta_host ? f->mta_host : st->host;
	const char *dot = strchr(host, '.');
	pn_geo geo;
	char asn[32] = "";

	memset(&geo, 0, sizeof(geo));
	push(&v, &n, "domain", dot ? dot + 1 : host);
	push(&v, &n, "host", host);
	push(&v, &n, "location", "MTA");
	push(&v, &n, "name", "Postern");
	push(&v, &n, "phase", "during");
	if (f->client_name)
		push(&v, &n, "remote-host", f->client_name);
	if (f->client_addr)
		push(&v, &n, "remote-ip", f->client_addr);
	push(&v, &n, "version", POSTERN_VERSION);
	if (st->geo && f->client_addr) {
		char *err = NULL;
		if (pn_geoip_lookup(st->geo, f->client_addr, &geo, &err) < 0) {
			pn_log(PN_LOG_WARN, "%s", err);
			pn_free(err);
		}
		if (geo.asn)
			snprintf(asn, sizeof(asn), "%lu", geo.asn);
	}
	push(&v, &n, "vnd.postern.client-country", geo.country);
	push(&v, &n, "vnd.postern.client-asn", asn);
	pn_geo_clear(&geo);
	push(&v, &n, "vnd.postern.tls-version", f->tls_version);
	push(&v, &n, "vnd.postern.authenticated", f->auth_user && *f->auth_user ? "yes" : "no");
	push(&v, &n, "vnd.postern.auth-user", f->auth_user);
	if (v == NULL)
		v = pn_calloc(1, sizeof(*v));
	return v;
}

/* sort_env_free - free sort_env_items() */
void sort_env_free(char **items)
{
	size_t i;

	for (i = 0; items && items[i]; i++)
		pn_free(items[i]);
	pn_free(items);
}

/* actions_equal - two modification lists are the same */
static int actions_equal(const pn_actions *a, const pn_actions *b)
{
	size_t i;

	if (a->count != b->count)
		return 0;
	for (i = 0; i < a->count; i++) {
		const pn_action *x = &a->items[i], *y = &b->items[i];
		if (x->type != y->type || x->index != y->index
		    || strcmp(x->name ? x->name : "", y->name ? y->name : "") != 0
		    || strcmp(x->value ? x->value : "", y->value ? y->value : "") != 0)
			return 0;
	}
	return 1;
}

/* deleted_occurrences - for each deleted original field, its number among
 * the fields of its name (1-based), in one pass: the names deleted are few
 * (at most max_header_edits deleteheader commands), the fields many */
static int *deleted_occurrences(const sv_result *r, const pn_msg *m)
{
	int *occ = pn_calloc(r->norig + 1, sizeof(int));
	const char **names = NULL;
	int *count = NULL;
	size_t nnames = 0, i, k;

	for (i = 0; i < r->norig; i++) {
		if (!r->deleted[i])
			continue;
		for (k = 0; k < nnames; k++)
			if (strcasecmp(names[k], m->headers[i].name) == 0)
				break;
		if (k == nnames) {
			names = pn_realloc(names, (nnames + 1) * sizeof(*names));
			names[nnames++] = m->headers[i].name;
		}
	}
	count = pn_calloc(nnames + 1, sizeof(int));
	for (i = 0; i < r->norig && nnames; i++)
		for (k = 0; k < nnames; k++)
			if (strcasecmp(names[k], m->headers[i].name) == 0) {
				occ[i] = ++count[k];
				break;
			}
	pn_free(names);
	pn_free(count);
	return occ;
}

/* view_mods - the header view of a result as milter modifications */
static void view_mods(const sv_result *r, const pn_msg *m, pn_actions *out)
{
	size_t i;

	if (r->deleted) {
		int *occ = deleted_occurrences(r, m);
		for (i = r->norig; i-- > 0;)
			if (r->deleted[i])
				pn_actions_delete_header(out, m->headers[i].name, occ[i]);
		pn_free(occ);
	}
	for (i = r->nhdrs; i-- > 0;)
		if (r->hdrs[i].orig < 0 && r->hdrs[i].top
		    && pn_actions_insert_header(out, 0, r->hdrs[i].name, r->hdrs[i].value) < 0)
			pn_log(PN_LOG_WARN, "sort: header %s not added: %s", r->hdrs[i].name,
			       pn_actions_error(out));
	for (i = 0; i < r->nhdrs; i++)
		if (r->hdrs[i].orig < 0 && !r->hdrs[i].top
		    && pn_actions_add_header(out, r->hdrs[i].name, r->hdrs[i].value) < 0)
			pn_log(PN_LOG_WARN, "sort: header %s not added: %s", r->hdrs[i].name,
			       pn_actions_error(out));
}

/* append_name - remember which scripts ran */
static void append_name(sort_rcpt *rc, const char *name)
{
	char *s = rc->scripts ? pn_asprintf("%s,%s", rc->scripts, name) : pn_strdup(name);

	pn_free(rc->scripts);
	rc->scripts = s;
	rc->ran++;
}

/*
 * keep_edits_once - the header section is shared: only the first
 * recipient's edits are applied, the others' only tell whether they are
 * the same. Comparing at once and freeing keeps one recipient's edits in
 * memory, not one copy per recipient (a message with many fields and a
 * script deleting them would otherwise cost fields x recipients).
 */
static void keep_edits_once(sort_outcome *o, size_t i)
{
	sort_rcpt *rc = &o->r[i];

	sv_result_drop_view(&rc->res);
	if (i == 0) {
		rc->same_global = rc->same_all = 1;
		return;
	}
	rc->same_global = actions_equal(o->r[0].edits_global, rc->edits_global);
	rc->same_all = actions_equal(o->r[0].edits_all, rc->edits_all);
	pn_actions_free(rc->edits_global);
	pn_actions_free(rc->edits_all);
	rc->edits_global = pn_actions_new();
	rc->edits_all = pn_actions_new();
}

/* sv_services.include_arg: what the include hook needs of one recipient's run */
typedef struct run_arg {
	sort_state *st;
	sort_outcome *o;
	sort_rcpt *rc;
} run_arg;

/*
 * include_script - sv_services.include: NAME.sieve in the recipient's
 * include_personal_dir or in include_global_dir, from the script cache
 * (compiled once, recompiled when the file changes). The holder stays
 * with the recipient until the outcome is freed: its actions name it.
 */
static const sv_script *include_script(void *arg, int global, const char *name,
				       int *missing, char **err)
{
	run_arg *ia = arg;
	sort_state *st = ia->st;
	char *dir, *path;
	holder *h;

	*missing = 0;
	*err = NULL;
	dir = global ? pn_strdup(st->incl_global)
		     : expand_template(st, st->incl_personal, ia->rc);
	if (dir == NULL || *dir == '\0') {
		*missing = 1;
		*err = pn_asprintf("not found: no %s is set%s",
				   global ? "include_global_dir" : "include_personal_dir",
				   dir ? "" : " for this recipient");
		pn_free(dir);
		return NULL;
	}
	path = pn_asprintf("%s%s%s.sieve", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
	pn_free(dir);
	h = sort_script_acquire(st, path, 0, err);
	if (h == NULL) {
		if (*err == NULL) {
			*missing = 1;
			*err = pn_asprintf("not found (%s)", path);
		}
		pn_free(path);
		return NULL;
	}
	pn_free(path);
	ia->rc->held = pn_realloc(ia->rc->held, (ia->rc->nheld + 1) * sizeof(*ia->rc->held));
	ia->rc->held[ia->rc->nheld++] = h;
	if (!st->needs_body && sv_script_needs_body(h->s) && !ia->o->body_missing)
		ia->o->body_missing = pn_strdup(sv_script_name(h->s));
	return h->s;
}

/* sort_responses - the response store, opened on first use */
struct sort_store *sort_responses(sort_state *st)
{
	sort_store *store;
	char *err = NULL;

	if (st->store_path == NULL || *st->store_path == '\0')
		return NULL;
	pthread_mutex_lock(&st->store_lock);
	if (st->store == NULL && !st->store_failed) {
		st->store = sort_store_open(st->store_path, st->store_size, &err);
		if (st->store == NULL) {
			/* duplicate is then false and vacation silent: mail flows */
			pn_log(PN_LOG_ERROR, "response store: %s (duplicate and vacation "
			       "cannot remember until the next reload)", err);
			st->store_failed = 1;
			pn_free(err);
		}
	}
	store = st->store;
	pthread_mutex_unlock(&st->store_lock);
	return store;
}

/* sort_seen - sv_services.seen: the response store's answer */
int sort_seen(void *arg, const unsigned char key[32], time_t now)
{
	sort_store *store = sort_responses(arg);

	return store ? sort_store_seen(store, key, now) : -1;
}

/* sort_commit_marks - record the duplicate IDs of a run that succeeded */
void sort_commit_marks(sort_state *st, const sv_result *r, time_t now)
{
	sort_store *store;
	size_t i;

	if (r->nmarks == 0 || r->error || (store = sort_responses(st)) == NULL)
		return;
	for (i = 0; i < r->nmarks; i++) {
		const sv_mark *m = &r->marks[i];
		/* :last restarts the period; otherwise the first sighting
		 * counts, also when another thread recorded it meanwhile */
		if (m->last)
			sort_store_put(store, m->key, now + m->seconds);
		else
			sort_store_claim(store, m->key, now, now + m->seconds);
	}
}

/* sort_run - every recipient's scripts */
sort_outcome *sort_run(sort_state *st, const pn_msg *m, const char *const *items,
		       const sv_script *only)
{
	sort_outcome *o = pn_calloc(1, sizeof(*o));
	size_t i, k;

	o->st = st;
	o->n = m->nrcpts;
	o->r = pn_calloc(o->n + 1, sizeof(*o->r));
	o->body = sv_body_new();
	o->from_view_ok = sv_envelope_address(m->sender ? m->sender : "<>",
					      m->sender_canon_ok ? &m->sender_canon : NULL,
					      &o->from_view) == 0;
	for (i = 0; i < o->n; i++) {
		sort_rcpt *rc = &o->r[i];
		sv_env env;
		sv_services svc;
		run_arg ia;
		holder *h[3] = {NULL, NULL, NULL};
		char *path;

		rc->addr = m->rcpts[i].addr;
		rc->canon = m->rcpts[i].canon_ok ? &m->rcpts[i].canon : NULL;
		rc->view_ok = rc->canon != NULL
			      && sv_envelope_address(rc->addr, rc->canon, &rc->view) == 0;
		sv_result_init(&rc->res, m);
		memset(&env, 0, sizeof(env));
		env.msg = m;
		env.from = m->sender ? m->sender : "<>";
		env.to = rc->addr;
		env.from_addr = o->from_view_ok ? &o->from_view : NULL;
		env.to_addr = rc->view_ok ? &rc->view : NULL;
		env.items = items;
		env.separators = st->delim;
		env.body = o->body;
		env.limits = &st->lim;
		env.now = st->now ? st->now : time(NULL);
		svc = only ? st->svc_test : st->svc;
		ia.st = st;
		ia.o = o;
		ia.rc = rc;
		svc.include_arg = &ia;
		svc.include = include_script;
		env.svc = &svc;
		rc->edits_global = pn_actions_new();
		rc->edits_all = pn_actions_new();
		if (only) {
			append_name(rc, sv_script_name(only));
			sv_run(only, &env, &rc->res);
			view_mods(&rc->res, m, rc->edits_global);
			view_mods(&rc->res, m, rc->edits_all);
			keep_edits_once(o, i);
			continue;
		}
		if (*st->global)
			h[0] = sort_script_acquire(st, st->global, 1, NULL);
		if ((path = expand_template(st, st->domain_tmpl, rc)) != NULL) {
			h[1] = sort_script_acquire(st, path, 0, NULL);
			pn_free(path);
		}
		if ((path = expand_template(st, st->user_tmpl, rc)) != NULL) {
			h[2] = sort_script_acquire(st, path, 0, NULL);
			pn_free(path);
		}
		for (k = 0; k < 3; k++) {
			int r;
			if (h[k] == NULL)
				continue;
			/* A script that appeared or changed since the load may test
			 * a body this connection did not ask the MTA for. */
			if (!st->needs_body && sv_script_needs_body(h[k]->s) && !o->body_missing)
				o->body_missing = pn_strdup(sv_script_name(h[k]->s));
			append_name(rc, sv_script_name(h[k]->s));
			r = sv_run(h[k]->s, &env, &rc->res);
			if (k == 0)
				view_mods(&rc->res, m, rc->edits_global);
			if (r != 0)
				break;
		}
		view_mods(&rc->res, m, rc->edits_all);
		sort_commit_marks(st, &rc->res, env.now);
		for (k = 0; k < 3; k++)
			sort_script_release(st, h[k]);
		keep_edits_once(o, i);
	}
	return o;
}

/* sort_set_clock - the time scripts see (0: the time of each run) */
void sort_set_clock(sort_state *st, time_t now)
{
	st->now = now;
}

/* sort_outcome_print - each recipient's Sieve actions */
void sort_outcome_print(const sort_outcome *o, FILE *out)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		if (o->n > 1)
			fprintf(out, "recipient %s\n", o->r[i].addr);
		sv_result_print(&o->r[i].res, out);
	}
}

/* sort_outcome_free - release an outcome */
void sort_outcome_free(sort_outcome *o)
{
	size_t i, k;

	if (o == NULL)
		return;
	for (i = 0; i < o->n; i++) {
		sv_result_clear(&o->r[i].res);
		pn_addr_clear(&o->r[i].view);
		pn_actions_free(o->r[i].edits_global);
		pn_actions_free(o->r[i].edits_all);
		pn_free(o->r[i].scripts);
		for (k = 0; k < o->r[i].nheld; k++)
			sort_script_release(o->st, o->r[i].held[k]);
		pn_free(o->r[i].held);
	}
	pn_free(o->r);
	pn_addr_clear(&o->from_view);
	sv_body_free(o->body);
	pn_free((char *)o->body_missing);
	pn_free(o);
}
