/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_engine - postern-sort's engine: configured scripts, runs per
 * recipient, and the milter modifications the actions become
 *
 * Nothing here calls libmilter. The daemon's hooks (sort_glue.c) and the
 * `test` tool (main.c) call the same functions.
 */
#include "milters/sort/sort_engine.h"
#include "milters/sort/sieve_int.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/geoip.h"
#include "common/log.h"

#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "0"
#endif

/* files a template may match at load time */
#define MAX_TEMPLATE_FILES 100000

const pn_param sort_params[] = {
	{"script", PN_PARAM_STR, "", 0, 0, NULL,
	 "global Sieve script run for every recipient (empty: none)"},
	{"domain_scripts", PN_PARAM_STR, "", 0, 0, NULL,
	 "per-domain scripts, %d = recipient domain, e.g. /etc/postern/sieve/%d.sieve"},
	{"user_scripts", PN_PARAM_STR, "", 0, 0, NULL,
	 "per-recipient scripts, %d = domain, %u = local part without detail"},
	{"fileinto_method", PN_PARAM_ENUM, "subaddress", 0, 0, "subaddress|header",
	 "how fileinto reaches the delivery agent"},
	{"recipient_delimiter", PN_PARAM_STR, "+", 0, 0, NULL,
	 "subaddress delimiter(s); the first builds user+Folder@domain"},
	{"folder_header", PN_PARAM_STR, "X-Postern-Folder", 0, 0, NULL,
	 "header added by fileinto_method = header"},
	{"redirect_trace_header", PN_PARAM_STR, "X-Postern-Redirected", 0, 0, NULL,
	 "header that records each redirect, for loop protection"},
	{"max_redirect_hops", PN_PARAM_INT, "5", 1, 100, NULL,
	 "a message with this many trace headers is not redirected again"},
	{"max_actions", PN_PARAM_INT, "32", 1, 1000, NULL,
	 "actions one recipient's scripts may take"},
	{"max_redirects", PN_PARAM_INT, "4", 0, 100, NULL,
	 "redirects one recipient's scripts may take"},
	{"max_header_edits", PN_PARAM_INT, "32", 0, 1000, NULL,
	 "addheader and deleteheader executed for one recipient"},
	{"max_regex_size", PN_PARAM_SIZE, "1k", 16, 65536, NULL,
	 "longest regular expression"},
	{"max_steps", PN_PARAM_INT, "100000", 100, 100000000, NULL,
	 "run-time budget of one script run (commands, tests, comparisons)"},
	{"max_script_size", PN_PARAM_SIZE, "1m", 64, 64 * 1024 * 1024, NULL,
	 "largest script file"},
	{"max_nesting", PN_PARAM_INT, "32", 4, 256, NULL,
	 "blocks and tests nested inside each other"},
	{"max_variables", PN_PARAM_INT, "128", 1, 10000, NULL,
	 "variables one script run may set"},
	{"max_variable_size", PN_PARAM_SIZE, "4k", 64, 1024 * 1024, NULL,
	 "longest variable value (longer values are cut)"},
	{"max_body_size", PN_PARAM_SIZE, "1m", 1024, 64 * 1024 * 1024, NULL,
	 "body bytes the body test examines"},
	{"script_cache_size", PN_PARAM_INT, "1000", 10, 1000000, NULL,
	 "compiled per-domain and per-recipient scripts kept in memory"},
	{"geoip_country_db", PN_PARAM_STR, "", 0, 0, NULL,
	 "MaxMind country database for vnd.postern.client-country (empty: none)"},
	{"geoip_asn_db", PN_PARAM_STR, "", 0, 0, NULL,
	 "MaxMind ASN database for vnd.postern.client-asn (empty: none)"},
	{"environment_host", PN_PARAM_STR, "", 0, 0, NULL,
	 "environment item host (empty: the MTA's name, else this host's)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

/* a compiled script shared by the runs that use it */
typedef struct holder {
	sv_script *s;
	int refs;
} holder;

/* identity of a script file, to notice changes */
typedef struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
} file_id;

typedef struct entry {
	char *path;
	holder *h;		/* last good version, or NULL */
	file_id id;		/* of the file h was compiled from */
	file_id bad;		/* of a version that failed to compile */
	int have_bad;
	int pinned;		/* the global script: never evicted */
	struct entry *next;
} entry;

struct sort_state {
	sv_limits lim;
	char *global, *domain_tmpl, *user_tmpl;
	int by_header;
	char *delim;
	char *folder_header, *trace_header;
	int max_hops;
	pn_geoip *geo;
	char *host;
	unsigned cache_max;
	int needs_body;		/* a script compiled at load tests body or size */
	pthread_mutex_t lock;
	entry *cache;
	unsigned ncache;
};

/* ---- script cache ------------------------------------------------------- */

/* file_id_of - identity from stat */
static void file_id_of(const struct stat *sb, file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = sb->st_dev;
	id->ino = sb->st_ino;
	id->size = sb->st_size;
	id->mtime = sb->st_mtim;
	id->ctime = sb->st_ctim;
}

/* same_id - two identities are the same file version */
static int same_id(const file_id *a, const file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size
	       && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec
	       && a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* release_locked - drop a holder reference; the caller holds the lock */
static void release_locked(holder *h)
{
	if (h && --h->refs == 0) {
		sv_script_free(h->s);
		pn_free(h);
	}
}

/* script_release - a run is done with a script */
static void script_release(sort_state *st, holder *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	release_locked(h);
	pthread_mutex_unlock(&st->lock);
}

/* find_entry - cache entry for path; the caller holds the lock */
static entry *find_entry(sort_state *st, const char *path)
{
	entry *e;

	for (e = st->cache; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

/* evict_locked - drop every unpinned entry when the cache is full */
static void evict_locked(sort_state *st)
{
	entry **pe = &st->cache;

	while (*pe) {
		entry *e = *pe;
		if (e->pinned) {
			pe = &e->next;
			continue;
		}
		*pe = e->next;
		release_locked(e->h);
		pn_free(e->path);
		pn_free(e);
		st->ncache--;
	}
}

/* script_acquire - the current compiled version of a script file, or NULL */
static holder *script_acquire(sort_state *st, const char *path, int pinned, char **err)
{
	struct stat sb;
	file_id id;
	entry *e;
	holder *h = NULL;
	sv_script *s;
	char *why = NULL;

	if (err)
		*err = NULL;
	if (stat(path, &sb) < 0) {
		if (err && errno != ENOENT)
			*err = pn_asprintf("%s: cannot open: %s", path, strerror(errno));
		/* A vanished global script keeps its last version. */
		pthread_mutex_lock(&st->lock);
		e = find_entry(st, path);
		if (e && e->pinned && e->h) {
			h = e->h;
			h->refs++;
		}
		pthread_mutex_unlock(&st->lock);
		if (err && *err == NULL && pinned && h == NULL)
			*err = pn_asprintf("%s: cannot open: %s", path, strerror(ENOENT));
		return h;
	}
	file_id_of(&sb, &id);
	pthread_mutex_lock(&st->lock);
	e = find_entry(st, path);
	if (e && ((e->h && same_id(&e->id, &id)) || (e->have_bad && same_id(&e->bad, &id)))) {
		if ((h = e->h) != NULL)
			h->refs++;
		pthread_mutex_unlock(&st->lock);
		return h;
	}
	pthread_mutex_unlock(&st->lock);

	s = sv_compile_file(path, &st->lim, &why);

	pthread_mutex_lock(&st->lock);
	if ((e = find_entry(st, path)) == NULL) {
		if (!pinned && st->ncache >= st->cache_max)
			evict_locked(st);
		e = pn_calloc(1, sizeof(*e));
		e->path = pn_strdup(path);
		e->next = st->cache;
		st->cache = e;
		st->ncache++;
	}
	e->pinned |= pinned;
	if (s) {
		holder *nh = pn_calloc(1, sizeof(*nh));
		nh->s = s;
		nh->refs = 1;
		release_locked(e->h);
		e->h = nh;
		e->id = id;
		e->have_bad = 0;
	} else {
		e->bad = id;
		e->have_bad = 1;
	}
	if ((h = e->h) != NULL)
		h->refs++;
	pthread_mutex_unlock(&st->lock);
	if (why) {
		if (err)
			*err = why;
		else {
			pn_log(PN_LOG_ERROR, "%s%s", why,
			       h ? " (the previous version stays in use)" : " (script not used)");
			pn_free(why);
		}
	}
	return h;
}

/* ---- templates ---------------------------------------------------------- */

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

/* check_template - only %d, %u and %% */
static int check_template(const char *name, const char *tmpl, char **err)
{
	const char *t;

	for (t = tmpl; *t; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t != 'd' && *t != 'u' && *t != '%') {
			*err = pn_asprintf("parameter \"%s\" = \"%s\": unknown %%%c (use %%d, %%u "
					   "or %%%%)", name, tmpl, *t ? *t : ' ');
			return -1;
		}
	}
	return 0;
}

/* glob_of - a template turned into a glob(3) pattern */
static char *glob_of(const char *tmpl)
{
	pn_buf b;
	const char *t;

	pn_buf_init(&b, 4096);
	for (t = tmpl; *t; t++) {
		if (*t == '%' && (t[1] == 'd' || t[1] == 'u')) {
			pn_buf_putc(&b, '*');
			t++;
		} else if (*t == '%' && t[1] == '%') {
			pn_buf_putc(&b, '%');
			t++;
		} else if (*t == '*' || *t == '?' || *t == '[' || *t == '\\') {
			pn_buf_putc(&b, '\\');
			pn_buf_putc(&b, *t);
		} else {
			pn_buf_putc(&b, *t);
		}
	}
	return pn_buf_steal(&b, NULL);
}

/* precompile - compile every file a template matches; -1 on the first error */
static int precompile(sort_state *st, const char *tmpl, char **err)
{
	char *pat;
	glob_t g;
	size_t i;
	int rc = 0;

	if (*tmpl == '\0')
		return 0;
	pat = glob_of(tmpl);
	memset(&g, 0, sizeof(g));
	if (glob(pat, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc && i < MAX_TEMPLATE_FILES; i++) {
			holder *h;
			if (i >= st->cache_max)
				st->cache_max = (unsigned)i + 1;	/* keep them all */
			h = script_acquire(st, g.gl_pathv[i], 0, err);
			if (h && sv_script_needs_body(h->s))
				st->needs_body = 1;
			if (h == NULL && *err) {
				rc = -1;
				break;
			}
			script_release(st, h);
		}
	}
	globfree(&g);
	pn_free(pat);
	return rc;
}

/* ---- load --------------------------------------------------------------- */

/* sort_load - state from the configuration */
sort_state *sort_load(const pn_config *cfg, char **err)
{
	sort_state *st = pn_calloc(1, sizeof(*st));
	const char *cdb = pn_config_str(cfg, "geoip_country_db");
	const char *adb = pn_config_str(cfg, "geoip_asn_db");
	char host[256];

	*err = NULL;
	sv_limits_default(&st->lim);
	st->lim.max_actions = (unsigned)pn_config_int(cfg, "max_actions");
	st->lim.max_redirects = (unsigned)pn_config_int(cfg, "max_redirects");
	st->lim.max_header_edits = (unsigned)pn_config_int(cfg, "max_header_edits");
	st->lim.max_regex_size = (size_t)pn_config_int(cfg, "max_regex_size");
	st->lim.max_steps = (unsigned long)pn_config_int(cfg, "max_steps");
	st->lim.max_script_size = (size_t)pn_config_int(cfg, "max_script_size");
	st->lim.max_nesting = (unsigned)pn_config_int(cfg, "max_nesting");
	st->lim.max_variables = (unsigned)pn_config_int(cfg, "max_variables");
	st->lim.max_variable_size = (size_t)pn_config_int(cfg, "max_variable_size");
	st->lim.max_body_size = (size_t)pn_config_int(cfg, "max_body_size");
	st->global = pn_strdup(pn_config_str(cfg, "script"));
	st->domain_tmpl = pn_strdup(pn_config_str(cfg, "domain_scripts"));
	st->user_tmpl = pn_strdup(pn_config_str(cfg, "user_scripts"));
	st->by_header = strcmp(pn_config_str(cfg, "fileinto_method"), "header") == 0;
	st->delim = pn_strdup(pn_config_str(cfg, "recipient_delimiter"));
	st->folder_header = pn_strdup(pn_config_str(cfg, "folder_header"));
	st->trace_header = pn_strdup(pn_config_str(cfg, "redirect_trace_header"));
	st->max_hops = (int)pn_config_int(cfg, "max_redirect_hops");
	st->cache_max = (unsigned)pn_config_int(cfg, "script_cache_size");
	pthread_mutex_init(&st->lock, NULL);
	if (*pn_config_str(cfg, "environment_host"))
		st->host = pn_strdup(pn_config_str(cfg, "environment_host"));
	else if (gethostname(host, sizeof(host) - 1) == 0) {
		host[sizeof(host) - 1] = '\0';
		st->host = pn_strdup(host);
	} else
		st->host = pn_strdup("localhost");

	if (*st->delim == '\0' || strpbrk(st->delim, "@\"\\ ")) {
		*err = pn_asprintf("parameter \"recipient_delimiter\" = \"%s\": must be one or more "
				   "characters other than @, quote, backslash and space", st->delim);
		goto fail;
	}
	if (!sv_header_name_valid(st->folder_header, strlen(st->folder_header))
	    || !sv_header_name_valid(st->trace_header, strlen(st->trace_header))) {
		*err = pn_asprintf("parameters \"folder_header\" and \"redirect_trace_header\" must "
				   "be valid header names");
		goto fail;
	}
	if (check_template("domain_scripts", st->domain_tmpl, err) < 0
	    || check_template("user_scripts", st->user_tmpl, err) < 0)
		goto fail;
	if (*st->global) {
		holder *h = script_acquire(st, st->global, 1, err);
		if (h == NULL) {
			if (*err == NULL)
				*err = pn_asprintf("%s: cannot compile", st->global);
			goto fail;
		}
		st->needs_body |= sv_script_needs_body(h->s);
		script_release(st, h);
	}
	if (precompile(st, st->domain_tmpl, err) < 0 || precompile(st, st->user_tmpl, err) < 0)
		goto fail;
	if ((*cdb || *adb) && (st->geo = pn_geoip_open(cdb, adb, err)) == NULL)
		goto fail;
	return st;
fail:
	sort_unload(st);
	return NULL;
}

/* sort_unload - free the state */
void sort_unload(sort_state *st)
{
	entry *e, *next;

	if (st == NULL)
		return;
	for (e = st->cache; e; e = next) {
		next = e->next;
		release_locked(e->h);
		pn_free(e->path);
		pn_free(e);
	}
	pthread_mutex_destroy(&st->lock);
	pn_geoip_free(st->geo);
	pn_free(st->global);
	pn_free(st->domain_tmpl);
	pn_free(st->user_tmpl);
	pn_free(st->delim);
	pn_free(st->folder_header);
	pn_free(st->trace_header);
	pn_free(st->host);
	pn_free(st);
}

/* sort_limits - the limits scripts are compiled and run with */
const sv_limits *sort_limits(const sort_state *st)
{
	return &st->lim;
}

/* ---- environment -------------------------------------------------------- */

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

/* ---- runs --------------------------------------------------------------- */

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

static int actions_equal(const pn_actions *a, const pn_actions *b);

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

/* sort_needs_body - whether connections must ask the MTA for the body */
int sort_needs_body(const sort_state *st)
{
	return st->needs_body;
}

/* sort_run - every recipient's scripts */
sort_outcome *sort_run(sort_state *st, const pn_msg *m, const char *const *items,
		       const sv_script *only)
{
	sort_outcome *o = pn_calloc(1, sizeof(*o));
	size_t i, k;

	o->n = m->nrcpts;
	o->r = pn_calloc(o->n + 1, sizeof(*o->r));
	o->body = sv_body_new();
	o->from_view_ok = sv_envelope_address(m->sender ? m->sender : "<>",
					      m->sender_canon_ok ? &m->sender_canon : NULL,
					      &o->from_view) == 0;
	for (i = 0; i < o->n; i++) {
		sort_rcpt *rc = &o->r[i];
		sv_env env;
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
			h[0] = script_acquire(st, st->global, 1, NULL);
		if ((path = expand_template(st, st->domain_tmpl, rc)) != NULL) {
			h[1] = script_acquire(st, path, 0, NULL);
			pn_free(path);
		}
		if ((path = expand_template(st, st->user_tmpl, rc)) != NULL) {
			h[2] = script_acquire(st, path, 0, NULL);
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
		for (k = 0; k < 3; k++)
			script_release(st, h[k]);
		keep_edits_once(o, i);
	}
	return o;
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
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->n; i++) {
		sv_result_clear(&o->r[i].res);
		pn_addr_clear(&o->r[i].view);
		pn_actions_free(o->r[i].edits_global);
		pn_actions_free(o->r[i].edits_all);
		pn_free(o->r[i].scripts);
	}
	pn_free(o->r);
	pn_addr_clear(&o->from_view);
	sv_body_free(o->body);
	pn_free((char *)o->body_missing);
	pn_free(o);
}

/* ---- applying ----------------------------------------------------------- */

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

/* copy_actions - append src's modifications to dst */
static void copy_actions(pn_actions *dst, const pn_actions *src)
{
	size_t i;

	for (i = 0; i < src->count; i++) {
		const pn_action *x = &src->items[i];
		switch (x->type) {
		case PN_ACT_ADD_HEADER: pn_actions_add_header(dst, x->name, x->value); break;
		case PN_ACT_INSERT_HEADER: pn_actions_insert_header(dst, x->index, x->name, x->value); break;
		case PN_ACT_CHANGE_HEADER: pn_actions_change_header(dst, x->name, x->index, x->value); break;
		case PN_ACT_DELETE_HEADER: pn_actions_delete_header(dst, x->name, x->index); break;
		case PN_ACT_ADD_RCPT: pn_actions_add_rcpt(dst, x->name, x->value); break;
		case PN_ACT_DELETE_RCPT: pn_actions_delete_rcpt(dst, x->name); break;
		case PN_ACT_CHANGE_FROM: pn_actions_change_from(dst, x->name, x->value); break;
		case PN_ACT_QUARANTINE: pn_actions_quarantine(dst, x->value); break;
		}
	}
}

/*
 * subaddress_folder_ok - a folder that can be written as a local-part detail
 *
 * The recipient user+Folder@domain goes back through Postfix's address
 * rewriting, where "%" (allow_percent_hack) and "!" (swap_bangpath) turn
 * a local address into a remote one, "@" and quotes change what the
 * local part is, and delivery agents and scripts read other punctuation.
 * Only a safe set is written: ASCII letters and digits, "-" and "_",
 * with "." and "/" as hierarchy separators between non-empty names that
 * do not start with a dot; never a character of the recipient delimiter.
 */
static int subaddress_folder_ok(const char *f, const char *delim)
{
	const char *p;
	int start = 1;		/* at the start of a name */

	if (*f == '\0' || strlen(f) > 200)
		return 0;
	for (p = f; *p; p++) {
		if (strchr(delim, *p))
			return 0;
		if (*p == '.' || *p == '/') {
			if (start)
				return 0;	/* leading, doubled, "/." or "./" */
			start = 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '-' || *p == '_'))
			return 0;
		start = 0;
	}
	return !start;		/* not ending with a separator */
}

/* addr_eq - same address: local parts exactly, domains in any case */
static int addr_eq(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');

	if (da == NULL || db == NULL)
		return strcmp(a, b) == 0;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0
	       && strcasecmp(da, db) == 0;
}

/* strv_has - address list membership */
static int strv_has(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_eq(v[i], s))
			return 1;
	return 0;
}

/* plan - what sort_apply decides, before it is written into the actions */
typedef struct plan {
	pn_actions *mods;	/* recipient and trace/folder header changes */
	char **added;		/* recipients added (bare addresses) */
	size_t nadded;
	char **kept;		/* original recipients kept (bare) */
	size_t nkept;
	char **orig;		/* every original recipient (bare) */
	size_t norig;
	char **revived;		/* originals that another recipient's action delivers to */
	size_t nrevived;
	size_t rejected;
	const char *reject_text;
	const sv_action *reject_act;
	const char *reject_rcpt;
	/* fileinto under fileinto_method = header, decided once the final
	 * recipients are known (see folder_headers) */
	struct filed {
		size_t rcpt;
		const sv_action *act;
	} *filed;
	size_t nfiled;
	int redirected;		/* a redirect was made: one trace header */
	int hops_in;		/* redirects the message went through already */
} plan;

/* add_recipient - add a recipient once */
static void add_recipient(plan *p, const char *addr, const char *qid)
{
	char *path;

	if (strv_has(p->added, p->nadded, addr) || strv_has(p->kept, p->nkept, addr)
	    || strv_has(p->revived, p->nrevived, addr))
		return;
	if (strv_has(p->orig, p->norig, addr)) {
		p->revived = pn_realloc(p->revived, (p->nrevived + 1) * sizeof(*p->revived));
		p->revived[p->nrevived++] = pn_strdup(addr);
		return;
	}
	path = pn_asprintf("<%s>", addr);
	if (pn_actions_add_rcpt(p->mods, path, NULL) < 0)
		pn_log_msg(PN_LOG_WARN, qid, "sort: cannot add recipient %s: %s", path,
			   pn_actions_error(p->mods));
	pn_free(path);
	p->added = pn_realloc(p->added, (p->nadded + 1) * sizeof(*p->added));
	p->added[p->nadded++] = pn_strdup(addr);
}

/*
 * trace_hops - redirects the message went through, from the trace fields
 * it arrived with: Postern writes "hops=N" (N counts this redirect and
 * the earlier ones, whose fields are removed on the way); an older field
 * "<address>" counts one and a loop when it names addr.
 */
static int trace_hops(const sort_state *st, const pn_msg *m, const char *addr, int *loop)
{
	size_t i;
	int old = 0, hops = 0;

	*loop = 0;
	for (i = 0; i < m->nheaders; i++) {
		const char *v = m->headers[i].value;
		size_t len;

		if (strcasecmp(m->headers[i].name, st->trace_header) != 0)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, "hops=", 5) == 0) {
			long n = strtol(v + 5, NULL, 10);
			if (n > hops)
				hops = n > 1000 ? 1000 : (int)n;
			continue;
		}
		old++;
		while (*v == '<')
			v++;
		len = strcspn(v, "> \t\r\n");
		if (addr && len == strlen(addr) && strncasecmp(v, addr, len) == 0)
			*loop = 1;
	}
	return hops > old ? hops : old;
}

/* subaddress - user+folder@domain, the local part quoted when it must be */
static char *subaddress(const char *user, char delim, const char *folder, const char *domain)
{
	char *local = pn_asprintf("%s%c%s", user, delim, folder);
	char *written = sv_written_local(local);
	char *addr = pn_asprintf("%s@%s", written, domain);

	pn_free(written);
	pn_free(local);
	return addr;
}

/* one_rcpt - decide for one recipient; returns 1 when it stays */
static int one_rcpt(const sort_state *st, const sort_rcpt *rc, size_t ri, const pn_msg *m,
		    const char *qid, plan *p)
{
	const sv_result *R = &rc->res;
	int keep = sv_result_keeps(R);
	size_t i;
	const char *who = rc->addr;

	if (R->error)
		pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s: run-time failure at %s: "
			   "keeping the message", who, R->error_script, R->error);
	if (!rc->view_ok) {
		pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s: cannot parse the recipient: left as is",
			   who);
		return 1;
	}
	for (i = 0; i < R->nacts; i++) {
		const sv_action *x = &R->acts[i];
		if (x->type == SV_ACT_REJECT || x->type == SV_ACT_EREJECT) {
			p->rejected++;
			if (p->reject_text == NULL) {
				p->reject_text = x->arg;
				p->reject_act = x;
				p->reject_rcpt = who;
			}
			return -1;
		}
	}
	for (i = 0; i < R->nacts; i++) {
		const sv_action *x = &R->acts[i];
		int loop, hops;
		char *addr, *user = NULL, *detail = NULL;

		switch (x->type) {
		case SV_ACT_KEEP:
			pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: keep", who,
				   x->script, x->line);
			break;
		case SV_ACT_DISCARD:
			pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: discard", who,
				   x->script, x->line);
			break;
		case SV_ACT_FILEINTO:
			if (strcasecmp(x->arg, "INBOX") == 0) {
				keep = 1;
				pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: fileinto "
					   "\"INBOX\": keep", who, x->script, x->line);
			} else if (st->by_header) {
				/* the recipient stays; the header is decided once every
				 * recipient is known (folder_headers) */
				keep = 1;
				p->filed = pn_realloc(p->filed, (p->nfiled + 1) * sizeof(*p->filed));
				p->filed[p->nfiled].rcpt = ri;
				p->filed[p->nfiled].act = x;
				p->nfiled++;
			} else if (!subaddress_folder_ok(x->arg, st->delim)) {
				keep = 1;
				pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s line=%d: fileinto "
					   "\"%s\": folder name cannot be a subaddress: keeping the "
					   "message", who, x->script, x->line, x->arg);
			} else {
				/* the canonical local part: "<\"bob\"(x)@d>" is bob@d */
				pn_addr_split_sub(rc->canon->local, st->delim, &user, &detail);
				addr = subaddress(user, st->delim[0], x->arg, rc->view.domain);
				add_recipient(p, addr, qid);
				pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: fileinto "
					   "\"%s\": recipient <%s>", who, x->script, x->line, x->arg,
					   addr);
				pn_free(addr);
				pn_free(user);
				pn_free(detail);
			}
			break;
		case SV_ACT_REDIRECT:
			hops = trace_hops(st, m, x->arg, &loop);
			if (loop || hops >= st->max_hops) {
				keep = 1;
				pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s line=%d: redirect "
					   "to <%s> refused (%s): keeping the message", who, x->script,
					   x->line, x->arg, loop ? "mail loop" : "too many redirects");
				break;
			}
			add_recipient(p, x->arg, qid);
			p->redirected = 1;
			p->hops_in = hops;
			pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: redirect%s to <%s>",
				   who, x->script, x->line, x->copy ? " :copy" : "", x->arg);
			break;
		default:
			break;
		}
	}
	if (keep && R->implicit_keep && !R->explicit_keep)
		pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s: implicit keep", who,
			   rc->scripts ? rc->scripts : "(none)");
	return keep;
}

/* reply_text - a reject reason as one printable SMTP reply line */
static char *reply_text(const char *s)
{
	pn_buf b;
	const char *p;

	pn_buf_init(&b, 0);
	for (p = s; *p && pn_buf_len(&b) < 400; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\r' || c == '\n' || c == '\t')
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == ' ' && pn_buf_len(&b) && b.data[b.len - 1] == ' ')
			continue;
		pn_buf_putc(&b, c);
	}
	while (pn_buf_len(&b) && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	if (pn_buf_len(&b) == 0)
		pn_buf_puts(&b, "Message rejected");
	return pn_buf_steal(&b, NULL);
}

/* log_edits - the header edits applied, with their scripts and lines */
static void log_edits(const sort_rcpt *rc, const char *qid, const char *only_script)
{
	size_t i;

	for (i = 0; i < rc->res.nacts; i++) {
		const sv_action *x = &rc->res.acts[i];
		if (only_script && strcmp(x->script, only_script) != 0)
			continue;
		if (x->type == SV_ACT_ADDHEADER)
			pn_log_msg(PN_LOG_INFO, qid, "sort: script=%s line=%d: addheader %s",
				   x->script, x->line, x->arg);
		else if (x->type == SV_ACT_DELETEHEADER)
			pn_log_msg(PN_LOG_INFO, qid, "sort: script=%s line=%d: deleteheader %s (%u)",
				   x->script, x->line, x->arg, x->count);
	}
}

/* same_folders - recipients a and b filed into the same folders, in order */
static int same_folders(const plan *p, size_t a, size_t b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < p->nfiled && p->filed[i].rcpt != a)
			i++;
		while (j < p->nfiled && p->filed[j].rcpt != b)
			j++;
		if (i == p->nfiled || j == p->nfiled)
			return i == p->nfiled && j == p->nfiled;
		if (strcmp(p->filed[i].act->arg, p->filed[j].act->arg) != 0)
			return 0;
		i++;
		j++;
	}
}

/*
 * folder_headers - fileinto_method = header: the header section is one for
 * every recipient of the message, so a folder header is written only when
 * every final recipient filed into the same folders: it then names no
 * address ("X-Postern-Folder: Folder"), and tells no recipient anything
 * about another. Otherwise (a Bcc recipient, a redirect target, another
 * recipient that keeps or files elsewhere) the fileinto is a keep, logged.
 */
static void folder_headers(const sort_state *st, const sort_outcome *o, const plan *p,
			   const int *final, const char *qid, pn_actions *headers)
{
	size_t i, first;
	int ok;

	if (p->nfiled == 0)
		return;
	first = p->filed[0].rcpt;
	ok = p->nadded == 0;
	for (i = 0; i < o->n && ok; i++)
		if (final[i] && !same_folders(p, first, i))
			ok = 0;
	for (i = 0; i < p->nfiled; i++) {
		const sv_action *x = p->filed[i].act;
		const char *who = o->r[p->filed[i].rcpt].addr;

		if (!ok) {
			pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s line=%d: fileinto \"%s\": "
				   "the message has other recipients, who would see the folder "
				   "header: keeping the message", who, x->script, x->line, x->arg);
			continue;
		}
		pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: fileinto \"%s\": "
			   "header %s", who, x->script, x->line, x->arg, st->folder_header);
		if (p->filed[i].rcpt == first) {
			char *enc = sv_header_value(x->arg, strlen(x->arg));
			pn_actions_add_header(headers, st->folder_header, enc);
			pn_free(enc);
		}
	}
}

/* own_header - a header name Postern's sort writes */
static int own_header(const sort_state *st, const char *name)
{
	return name && (strcasecmp(name, st->folder_header) == 0
			|| strcasecmp(name, st->trace_header) == 0);
}

/*
 * strip_own_headers - incoming fields of the names Postern writes are
 * removed, so that what reaches delivery under those names is Postern's
 * own (a sender's "X-Postern-Folder: Trash" would otherwise steer the
 * delivery rule). The last occurrence goes first: the indexes of the
 * earlier ones stay valid.
 */
static void strip_own_headers(const sort_state *st, const pn_msg *m, pn_actions *a)
{
	const char *names[2];
	size_t i, k;

	names[0] = st->folder_header;
	names[1] = strcasecmp(st->folder_header, st->trace_header) ? st->trace_header : NULL;
	for (k = 0; k < 2 && names[k]; k++) {
		int n = 0;
		for (i = 0; i < m->nheaders; i++)
			n += strcasecmp(m->headers[i].name, names[k]) == 0;
		for (; n > 0; n--)
			pn_actions_delete_header(a, names[k], n);
	}
}

/* copy_script_edits - a script's header edits, but none of the fields
 * Postern writes: those are removed on arrival and written by Postern */
static void copy_script_edits(const sort_state *st, pn_actions *dst, const pn_actions *src,
			      const char *qid)
{
	pn_actions *keep = pn_actions_new();
	size_t i;

	for (i = 0; i < src->count; i++) {
		const pn_action *x = &src->items[i];
		if (x->type != PN_ACT_ADD_RCPT && x->type != PN_ACT_DELETE_RCPT
		    && x->type != PN_ACT_CHANGE_FROM && x->type != PN_ACT_QUARANTINE
		    && own_header(st, x->name)) {
			pn_log_msg(PN_LOG_WARN, qid, "sort: script edit of header %s ignored: "
				   "Postern writes that header", x->name);
			continue;
		}
		switch (x->type) {
		case PN_ACT_ADD_HEADER: pn_actions_add_header(keep, x->name, x->value); break;
		case PN_ACT_INSERT_HEADER: pn_actions_insert_header(keep, x->index, x->name, x->value); break;
		case PN_ACT_CHANGE_HEADER: pn_actions_change_header(keep, x->name, x->index, x->value); break;
		case PN_ACT_DELETE_HEADER: pn_actions_delete_header(keep, x->name, x->index); break;
		default: break;
		}
	}
	copy_actions(dst, keep);
	pn_actions_free(keep);
}

/* sort_apply - milter modifications and verdict for an outcome */
void sort_apply(const sort_state *st, const sort_outcome *o, const pn_msg *m,
		const char *queue_id, pn_actions *a)
{
	plan p;
	pn_actions *headers = pn_actions_new();
	size_t i, remain = 0;
	int *stays = pn_calloc(o->n + 1, sizeof(int));
	int *final = pn_calloc(o->n + 1, sizeof(int));

	memset(&p, 0, sizeof(p));
	p.mods = pn_actions_new();
	/* recipients that stay unchanged are known first, so that a redirect
	 * to one of them does not add it twice */
	for (i = 0; i < o->n; i++) {
		const sv_result *R = &o->r[i].res;
		size_t j;
		int rej = 0;

		for (j = 0; j < R->nacts; j++)
			rej |= R->acts[j].type == SV_ACT_REJECT || R->acts[j].type == SV_ACT_EREJECT;
		if (!o->r[i].view_ok)
			continue;
		p.orig = pn_realloc(p.orig, (p.norig + 1) * sizeof(*p.orig));
		p.orig[p.norig++] = pn_strdup(o->r[i].view.address);
		if (!rej && sv_result_keeps(R)) {
			p.kept = pn_realloc(p.kept, (p.nkept + 1) * sizeof(*p.kept));
			p.kept[p.nkept++] = pn_strdup(o->r[i].view.address);
		}
	}
	for (i = 0; i < o->n; i++)
		stays[i] = one_rcpt(st, &o->r[i], i, m, queue_id, &p);
	if (o->n > 0 && p.rejected == o->n) {
		char *text = reply_text(p.reject_text);
		pn_actions_set_reply(a, PN_REJECT, "550", "5.7.1", text);
		pn_log_msg(PN_LOG_INFO, queue_id, "sort: to=%s script=%s line=%d: %s: message "
			   "refused: 550 5.7.1 %s", p.reject_rcpt, p.reject_act->script,
			   p.reject_act->line,
			   p.reject_act->type == SV_ACT_REJECT ? "reject" : "ereject", text);
		pn_free(text);
		goto out;
	}
	/* the recipients the message goes to in the end */
	for (i = 0; i < o->n; i++) {
		final[i] = stays[i] == 1;
		if (!final[i] && o->r[i].view_ok)
			final[i] = strv_has(p.revived, p.nrevived, o->r[i].view.address);
	}
	folder_headers(st, o, &p, final, queue_id, headers);
	if (p.redirected) {
		char *v = pn_asprintf("hops=%d", p.hops_in + 1);
		pn_actions_add_header(headers, st->trace_header, v);
		pn_free(v);
	}
	strip_own_headers(st, m, a);
	/* header edits: shared by all recipients */
	if (o->n > 0) {
		int all_same = 1, global_same = 1;
		for (i = 1; i < o->n; i++) {
			all_same &= o->r[i].same_all;
			global_same &= o->r[i].same_global;
		}
		if (all_same) {
			copy_script_edits(st, a, o->r[0].edits_all, queue_id);
			log_edits(&o->r[0], queue_id, NULL);
		} else {
			copy_script_edits(st, a, o->r[0].edits_global, queue_id);
			log_edits(&o->r[0], queue_id, *st->global ? st->global : "");
			pn_log_msg(PN_LOG_WARN, queue_id, "sort: header edits differ between "
				   "recipients: %s", global_same ? "per-recipient edits ignored"
				   : "applying the global script's edits for the first recipient");
		}
	}
	copy_actions(a, headers);
	copy_actions(a, p.mods);
	for (i = 0; i < o->n; i++) {
		int again = 0;

		if (stays[i] == 1) {
			remain++;
			continue;
		}
		/* a recipient re-added by another's redirect or fileinto stays */
		if (o->r[i].view_ok)
			again = strv_has(p.revived, p.nrevived, o->r[i].view.address);
		if (again) {
			remain++;
			continue;
		}
		pn_actions_delete_rcpt(a, o->r[i].addr);
		if (stays[i] < 0)
			pn_log_msg(PN_LOG_INFO, queue_id, "sort: to=%s: rejected by its script while "
				   "other recipients accept the message: recipient removed",
				   o->r[i].addr);
	}
	if (remain == 0 && p.nadded == 0 && o->n > 0) {
		a->verdict = PN_DISCARD;
		pn_log_msg(PN_LOG_INFO, queue_id, "sort: no recipient left: message discarded");
	}
out:
	for (i = 0; i < p.nadded; i++)
		pn_free(p.added[i]);
	pn_free(p.added);
	for (i = 0; i < p.nkept; i++)
		pn_free(p.kept[i]);
	pn_free(p.kept);
	for (i = 0; i < p.norig; i++)
		pn_free(p.orig[i]);
	pn_free(p.orig);
	for (i = 0; i < p.nrevived; i++)
		pn_free(p.revived[i]);
	pn_free(p.revived);
	pn_actions_free(p.mods);
	pn_actions_free(headers);
	pn_free(stays);
	pn_free(final);
	pn_free(p.filed);
}
