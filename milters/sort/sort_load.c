/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_load - postern-sort's configuration: parameters, state, load
 *
 * sort_params is the parameter table; sort_load() checks the parameters,
 * compiles the global script and every file the per-domain and
 * per-recipient templates and the include directories match (so
 * `postern-sort check` validates them) into the script cache
 * (sort_cache.c), opens the GeoIP databases and checks the spamtest and
 * virustest settings (the response store is opened by its first user,
 * sort_run.c).
 * sort_unload() frees it all.
 */
#include "milters/sort/sort_int.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/geoip.h"
#include "milters/sort/sort_store.h"
#include "milters/sort/sort_submit.h"

#include <glob.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

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
	{"original_recipient_header", PN_PARAM_STR, "X-Postern-Original-To", 0, 0, NULL,
	 "header naming the recipient a fileinto subaddress replaced (empty: none)"},
	{"flags_header", PN_PARAM_STR, "X-Postern-Flags", 0, 0, NULL,
	 "header carrying imap4flags flags to the delivery agent (empty: flags are dropped)"},
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
	{"include_personal_dir", PN_PARAM_STR, "", 0, 0, NULL,
	 "directory of the scripts include :personal names, %d = domain, %u = local part "
	 "(NAME is NAME.sieve; empty: none)"},
	{"include_global_dir", PN_PARAM_STR, "", 0, 0, NULL,
	 "directory of the scripts include :global names (NAME.sieve; empty: none)"},
	{"max_include_depth", PN_PARAM_INT, "10", 1, SV_MAX_INCLUDE_DEPTH, NULL,
	 "scripts nested by include in one run (deeper is a run-time error)"},
	{"max_includes", PN_PARAM_INT, "255", 1, 10000, NULL,
	 "scripts one recipient's run may include in all"},
	{"script_cache_size", PN_PARAM_INT, "1000", 10, 1000000, NULL,
	 "compiled per-domain and per-recipient scripts kept in memory"},
	{"geoip_country_db", PN_PARAM_STR, "", 0, 0, NULL,
	 "MaxMind country database for vnd.postern.client-country (empty: none)"},
	{"geoip_asn_db", PN_PARAM_STR, "", 0, 0, NULL,
	 "MaxMind ASN database for vnd.postern.client-asn (empty: none)"},
	{"environment_host", PN_PARAM_STR, "", 0, 0, NULL,
	 "environment item host (empty: the MTA's name, else this host's)"},
	{"response_store", PN_PARAM_STR, "/var/lib/postern/sort/responses", 0, 0, NULL,
	 "file of the duplicate and vacation memory (empty: none)"},
	{"response_store_size", PN_PARAM_INT, "100000", 100, 1000000, NULL,
	 "keys the response store holds (the oldest expiry goes first)"},
	{"duplicate_default_period", PN_PARAM_TIME, "12h", 1, 365 * 86400, NULL,
	 "duplicate: how long an ID counts as seen without :seconds"},
	{"duplicate_max_period", PN_PARAM_TIME, "2d", 1, 365 * 86400, NULL,
	 "duplicate: the longest :seconds"},
	{"spamtest_status_header", PN_PARAM_STR, "", 0, 0, NULL,
	 "spamtest: \"Name\" or \"Name: regex\" of the spam score field (empty: spamtest is 0)"},
	{"spamtest_status_type", PN_PARAM_ENUM, "score", 0, 0, "score|strlen|text",
	 "spamtest: how the field's value reads"},
	{"spamtest_max_header", PN_PARAM_STR, "", 0, 0, NULL,
	 "spamtest: \"Name\" or \"Name: regex\" of the field with the maximum score"},
	{"spamtest_max_value", PN_PARAM_STR, "", 0, 0, NULL,
	 "spamtest: the maximum score (score, strlen), when no spamtest_max_header"},
	{"spamtest_text_values", PN_PARAM_STR, "", 0, 0, NULL,
	 "spamtest: status_type text: N=TEXT, ... (N 0..10)"},
	{"virustest_status_header", PN_PARAM_STR, "", 0, 0, NULL,
	 "virustest: \"Name\" or \"Name: regex\" of the virus status field (empty: virustest is 0)"},
	{"virustest_status_type", PN_PARAM_ENUM, "text", 0, 0, "score|strlen|text",
	 "virustest: how the field's value reads"},
	{"virustest_max_header", PN_PARAM_STR, "", 0, 0, NULL,
	 "virustest: \"Name\" or \"Name: regex\" of the field with the maximum"},
	{"virustest_max_value", PN_PARAM_STR, "", 0, 0, NULL,
	 "virustest: the maximum (score, strlen), when no virustest_max_header"},
	{"virustest_text_values", PN_PARAM_STR, "", 0, 0, NULL,
	 "virustest: status_type text: N=TEXT, ... (N 0..5)"},
	{"submit_method", PN_PARAM_STR, "sendmail:/usr/sbin/sendmail", 0, 0, NULL,
	 "how vacation and notify messages leave: sendmail:PATH or smtp:HOST:PORT"},
	{"submit_spool_dir", PN_PARAM_STR, "/var/spool/postern/sort-outgoing", 0, 0, NULL,
	 "where vacation and notify messages wait for the sender thread"},
	{"submit_max_queue", PN_PARAM_INT, "10000", 1, 10000000, NULL,
	 "messages that may wait in submit_spool_dir; more are dropped (logged)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

/* load_services - the response store's settings and the spam settings */
static int load_services(sort_state *st, const pn_config *cfg, char **err)
{
	sv_spamparams spam, virus;

	st->lim.duplicate_default_period = (unsigned long)pn_config_int(cfg,
								     "duplicate_default_period");
	st->lim.duplicate_max_period = (unsigned long)pn_config_int(cfg, "duplicate_max_period");
	st->store_path = pn_strdup(pn_config_str(cfg, "response_store"));
	st->store_size = (unsigned)pn_config_int(cfg, "response_store_size");
	pthread_mutex_init(&st->store_lock, NULL);
	spam.status_header = pn_config_str(cfg, "spamtest_status_header");
	spam.status_type = pn_config_str(cfg, "spamtest_status_type");
	spam.max_header = pn_config_str(cfg, "spamtest_max_header");
	spam.max_value = pn_config_str(cfg, "spamtest_max_value");
	spam.text_values = pn_config_str(cfg, "spamtest_text_values");
	virus.status_header = pn_config_str(cfg, "virustest_status_header");
	virus.status_type = pn_config_str(cfg, "virustest_status_type");
	virus.max_header = pn_config_str(cfg, "virustest_max_header");
	virus.max_value = pn_config_str(cfg, "virustest_max_value");
	virus.text_values = pn_config_str(cfg, "virustest_text_values");
	if ((st->spam = sv_spamconf_new(&spam, &virus, err)) == NULL) {
		char *e = *err;
		*err = pn_asprintf("parameter %s", e);
		pn_free(e);
		return -1;
	}
	st->svc.arg = st;
	st->svc.seen = sort_seen;
	st->svc.spam = st->spam;
	st->svc_test.spam = st->spam;
	return 0;
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
			h = sort_script_acquire(st, g.gl_pathv[i], 0, err);
			if (h && sv_script_needs_body(h->s))
				st->needs_body = 1;
			if (h == NULL && *err) {
				rc = -1;
				break;
			}
			sort_script_release(st, h);
		}
	}
	globfree(&g);
	pn_free(pat);
	return rc;
}

/* include_template - the template of every script an include directory
 * holds: DIR/%u.sieve (a literal "%" of a global directory doubled) */
static char *include_template(const char *dir, int is_template)
{
	pn_buf b;
	const char *p;

	pn_buf_init(&b, 4096);
	for (p = dir; *p; p++) {
		if (*p == '%' && !is_template)
			pn_buf_putc(&b, '%');
		pn_buf_putc(&b, *p);
	}
	if (pn_buf_len(&b) && p[-1] != '/')
		pn_buf_putc(&b, '/');
	pn_buf_puts(&b, "%u.sieve");
	return pn_buf_steal(&b, NULL);
}

/* precompile_includes - every script the include directories hold, so
 * that check reports their errors too */
static int precompile_includes(sort_state *st, char **err)
{
	const char *dirs[2] = {st->incl_personal, st->incl_global};
	int k, rc = 0;

	for (k = 0; k < 2 && rc == 0; k++) {
		char *t;

		if (*dirs[k] == '\0')
			continue;
		t = include_template(dirs[k], k == 0);
		rc = precompile(st, t, err);
		pn_free(t);
	}
	return rc;
}

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
	st->lim.max_include_depth = (unsigned)pn_config_int(cfg, "max_include_depth");
	st->lim.max_includes = (unsigned)pn_config_int(cfg, "max_includes");
	st->incl_personal = pn_strdup(pn_config_str(cfg, "include_personal_dir"));
	st->incl_global = pn_strdup(pn_config_str(cfg, "include_global_dir"));
	st->global = pn_strdup(pn_config_str(cfg, "script"));
	st->domain_tmpl = pn_strdup(pn_config_str(cfg, "domain_scripts"));
	st->user_tmpl = pn_strdup(pn_config_str(cfg, "user_scripts"));
	st->by_header = strcmp(pn_config_str(cfg, "fileinto_method"), "header") == 0;
	st->delim = pn_strdup(pn_config_str(cfg, "recipient_delimiter"));
	st->folder_header = pn_strdup(pn_config_str(cfg, "folder_header"));
	st->trace_header = pn_strdup(pn_config_str(cfg, "redirect_trace_header"));
	st->original_header = pn_strdup(pn_config_str(cfg, "original_recipient_header"));
	st->flags_header = pn_strdup(pn_config_str(cfg, "flags_header"));
	st->max_hops = (int)pn_config_int(cfg, "max_redirect_hops");
	st->cache_max = (unsigned)pn_config_int(cfg, "script_cache_size");
	pthread_mutex_init(&st->lock, NULL);
	st->submit_method = pn_strdup(pn_config_str(cfg, "submit_method"));
	st->submit_dir = pn_strdup(pn_config_str(cfg, "submit_spool_dir"));
	st->submit_max_queue = (unsigned)pn_config_int(cfg, "submit_max_queue");
	pthread_mutex_init(&st->submit_lock, NULL);
	if (*pn_config_str(cfg, "environment_host"))
		st->host = pn_strdup(pn_config_str(cfg, "environment_host"));
	else if (gethostname(host, sizeof(host) - 1) == 0) {
		host[sizeof(host) - 1] = '\0';
		st->host = pn_strdup(host);
	} else
		st->host = pn_strdup("localhost");

	if (sort_submit_method_valid(st->submit_method, err) < 0)
		goto fail;
	if (st->submit_dir[0] != '/') {
		*err = pn_asprintf("parameter \"submit_spool_dir\" = \"%s\": must be an absolute "
				   "path", st->submit_dir);
		goto fail;
	}
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
	if (*st->original_header
	    && !sv_header_name_valid(st->original_header, strlen(st->original_header))) {
		*err = pn_asprintf("parameter \"original_recipient_header\" must be empty or a "
				   "valid header name");
		goto fail;
	}
	if (load_services(st, cfg, err) < 0)
		goto fail;
	if (*st->flags_header
	    && !sv_header_name_valid(st->flags_header, strlen(st->flags_header))) {
		*err = pn_asprintf("parameter \"flags_header\" must be empty or a valid header name");
		goto fail;
	}
	if (check_template("domain_scripts", st->domain_tmpl, err) < 0
	    || check_template("user_scripts", st->user_tmpl, err) < 0
	    || check_template("include_personal_dir", st->incl_personal, err) < 0)
		goto fail;
	if (*st->global) {
		holder *h = sort_script_acquire(st, st->global, 1, err);
		if (h == NULL) {
			if (*err == NULL)
				*err = pn_asprintf("%s: cannot compile", st->global);
			goto fail;
		}
		st->needs_body |= sv_script_needs_body(h->s);
		sort_script_release(st, h);
	}
	if (precompile(st, st->domain_tmpl, err) < 0 || precompile(st, st->user_tmpl, err) < 0
	    || precompile_includes(st, err) < 0)
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
	if (st == NULL)
		return;
	sort_cache_free(st);
	pthread_mutex_destroy(&st->lock);
	if (st->submit_method) {
		sort_submit_free(st->submit);
		pthread_mutex_destroy(&st->submit_lock);
		pn_free(st->submit_method);
		pn_free(st->submit_dir);
	}
	if (st->store_path) {
		sort_store_close(st->store);
		pthread_mutex_destroy(&st->store_lock);
		pn_free(st->store_path);
	}
	sv_spamconf_free(st->spam);
	pn_geoip_free(st->geo);
	pn_free(st->global);
	pn_free(st->domain_tmpl);
	pn_free(st->user_tmpl);
	pn_free(st->delim);
	pn_free(st->folder_header);
	pn_free(st->trace_header);
	pn_free(st->original_header);
	pn_free(st->flags_header);
	pn_free(st->host);
	pn_free(st->incl_personal);
	pn_free(st->incl_global);
	pn_free(st);
}

/* sort_limits - the limits scripts are compiled and run with */
const sv_limits *sort_limits(const sort_state *st)
{
	return &st->lim;
}

/* sort_needs_body - whether connections must ask the MTA for the body */
int sort_needs_body(const sort_state *st)
{
	return st->needs_body;
}
