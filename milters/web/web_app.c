/* SPDX-License-Identifier: BSD-2-Clause */
/* web_app - web.conf and what postern-web opens from it (see web_app.h) */
#include "milters/web/web_app.h"
#include "common/alloc.h"
#include "common/http.h"
#include "common/log.h"
#include "common/milter/daemon.h"
#include "milters/archive/archive_milter.h"
#include "milters/audit/audit_milter.h"
#include "milters/web/users.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const pn_param web_params[] = {
	{"listen", PN_PARAM_STR, "127.0.0.1:8425", 0, 0, NULL,
	 "address the console listens on: HOST:PORT, [V6]:PORT or PORT (loopback)"},
	{"user", PN_PARAM_STR, "", 0, 0, NULL,
	 "user to run as once the listener is bound (it must read the archive and write "
	 "its journal for holds; empty: do not change)"},
	{"pidfile", PN_PARAM_STR, "", 0, 0, NULL, "file that receives the daemon's pid"},
	{"log_level", PN_PARAM_ENUM, "info", 0, 0, "debug|info|warning|error",
	 "lowest level that is logged"},
	{"users_file", PN_PARAM_STR, "/etc/postern/web.users", 0, 0, NULL,
	 "accounts, one \"name:role:yescrypt-hash\" per line (postern-web passwd)"},
	{"archive_config", PN_PARAM_STR, "/etc/postern/archive.conf", 0, 0, NULL,
	 "postern-archive's configuration: the archive the console shows"},
	{"archive_key_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "private key (PEM) that decrypts encrypted objects for the console (empty: "
	 "encrypted messages are not shown)"},
	{"archive_cert_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "its certificate, when the key file does not hold it"},
	{"audit_config", PN_PARAM_STR, "/etc/postern/audit.conf", 0, 0, NULL,
	 "postern-audit's configuration: the trail shown per message (empty: none)"},
	{"audit_verify_key_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "the audit trail's initial sealing key (an offline copy): the audit page then checks "
	 "the MACs too (empty: the hash chain only)"},
	{"tls_policy", PN_PARAM_STR, "", 0, 0, NULL,
	 "postern-tls policy file for the TLS page (empty: tls_config's policy_file)"},
	{"tls_config", PN_PARAM_STR, "", 0, 0, NULL,
	 "postern-tls configuration, read for its policy_file when tls_policy is empty"},
	{"access_trail", PN_PARAM_STR, "/var/lib/postern/web/access.jsonl", 0, 0, NULL,
	 "audit trail of every page view, download, export, hold and login"},
	{"access_trail_key_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "key that seals the access trail's records (empty: hash chain only)"},
	{"session_idle_timeout", PN_PARAM_TIME, "15m", 60, 86400, NULL,
	 "a session ends after this long without a request"},
	{"session_lifetime", PN_PARAM_TIME, "8h", 60, 7 * 86400, NULL,
	 "a session ends this long after the login, whatever happens"},
	{"search_count_limit", PN_PARAM_INT, "10000", 10, 100000000, NULL,
	 "a search stops counting after this many deliveries (\"more than N\")"},
	{"max_sessions", PN_PARAM_INT, "1000", 1, 1000000, NULL,
	 "sessions kept at once (the least recently used gives way)"},
	{"login_failure_limit", PN_PARAM_INT, "5", 1, 1000, NULL,
	 "failed logins per client address, and per user name, before 429"},
	{"login_failure_window", PN_PARAM_TIME, "15m", 1, 86400, NULL,
	 "the period those failures are counted over"},
	{"login_table_size", PN_PARAM_INT, "4096", 16, 1000000, NULL,
	 "addresses and names the login limit remembers (each)"},
	{"sso_header", PN_PARAM_STR, "", 0, 0, NULL,
	 "request header naming the user a trusted proxy authenticated, e.g. "
	 "X-Remote-User (empty: no single sign-on)"},
	{"sso_trusted_proxies", PN_PARAM_STR, "127.0.0.1", 0, 0, NULL,
	 "addresses (CIDR list) whose sso_header is believed"},
	{"secure_cookies", PN_PARAM_BOOL, "no", 0, 0, NULL,
	 "mark the session cookie Secure even over plain HTTP (behind an HTTPS proxy)"},
	{"tls_cert_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "certificate chain (PEM): with tls_key_file the console speaks HTTPS only"},
	{"tls_key_file", PN_PARAM_STR, "", 0, 0, NULL, "its private key (PEM)"},
	{"max_connections", PN_PARAM_INT, "64", 1, 10000, NULL, "connections served at once"},
	{"export_limit", PN_PARAM_INT, "10000", 1, 10000000, NULL,
	 "most messages one export may hold"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

pn_config *web_config_load(const char *path, char **err)
{
	return pn_config_load(path, web_params, err);
}

/* now_real - the wall clock */
static long long now_real(void)
{
	return (long long)time(NULL);
}

long long web_now(const web_app *app)
{
	return app && app->now ? app->now() : now_real();
}

/* check_sso - sso_header is a header name, sso_trusted_proxies a CIDR list */
static int check_sso(const pn_config *cfg, pn_cidr_list **out, char **err)
{
	const char *h = pn_config_str(cfg, "sso_header");
	pn_cidr_list *l;
	char *why = NULL;
	size_t i;

	for (i = 0; h[i]; i++)
		if (!((h[i] >= 'A' && h[i] <= 'Z') || (h[i] >= 'a' && h[i] <= 'z')
		      || (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '_')) {
			*err = pn_asprintf("%s: parameter \"sso_header\" = \"%s\": not a header name",
					   pn_config_path(cfg), h);
			return -1;
		}
	if ((l = pn_cidr_list_parse(pn_config_str(cfg, "sso_trusted_proxies"), &why)) == NULL) {
		*err = pn_asprintf("%s: parameter \"sso_trusted_proxies\": %s", pn_config_path(cfg),
				   why);
		pn_free(why);
		return -1;
	}
	if (out)
		*out = l;
	else
		pn_cidr_list_free(l);
	return 0;
}

/* load_other - another daemon's configuration file with its own table */
static pn_config *load_other(const char *path, const pn_engine *e, pn_param **table, char **err)
{
	pn_config *cfg;

	*table = pn_engine_table(e);
	if ((cfg = pn_config_load(path, *table, err)) == NULL) {
		pn_free(*table);
		*table = NULL;
	}
	return cfg;
}

int web_app_check(const pn_config *cfg, char **err)
{
	const char *tc = pn_config_str(cfg, "tls_cert_file"), *tk = pn_config_str(cfg, "tls_key_file");
	pn_param *t;
	pn_config *c;
	arc_settings set;
	size_t accounts;

	if (check_sso(cfg, NULL, err) < 0)
		return -1;
	if (!!*tc != !!*tk) {
		*err = pn_asprintf("%s: tls_cert_file and tls_key_file go together", pn_config_path(cfg));
		return -1;
	}
	if (*pn_config_str(cfg, "access_trail") != '/') {
		*err = pn_asprintf("%s: parameter \"access_trail\": must be an absolute path (every "
				   "view is recorded)", pn_config_path(cfg));
		return -1;
	}
	if (web_users_check(pn_config_str(cfg, "users_file"), &accounts, err) < 0)
		return -1;
	if (accounts == 0 && *pn_config_str(cfg, "sso_header") == '\0')
		pn_log(PN_LOG_WARN, "%s holds no account: add one with postern-web passwd",
		       pn_config_str(cfg, "users_file"));
	if ((c = load_other(pn_config_str(cfg, "archive_config"), &archive_engine, &t, err)) == NULL)
		return -1;
	if (archive_settings(c, &set, err) < 0) {
		pn_config_free(c);
		pn_free(t);
		return -1;
	}
	pn_config_free(c);
	pn_free(t);
	if (*pn_config_str(cfg, "audit_config")) {
		if ((c = load_other(pn_config_str(cfg, "audit_config"), &audit_engine, &t, err)) == NULL)
			return -1;
		pn_config_free(c);
		pn_free(t);
	}
	return 0;
}

web_app *web_app_open(pn_config *cfg, char **err)
{
	web_app *app = pn_calloc(1, sizeof(*app));
	audit_trail_opts o;

	pthread_mutex_init(&app->catch_up_lock, NULL);
	const char *key = pn_config_str(cfg, "archive_key_file");
	size_t table = (size_t)pn_config_int(cfg, "login_table_size");
	unsigned limit = (unsigned)pn_config_int(cfg, "login_failure_limit");
	long window = (long)pn_config_int(cfg, "login_failure_window");
	char host[256];

	app->cfg = cfg;
	app->users_file = pn_config_str(cfg, "users_file");
	app->tls_policy = pn_config_str(cfg, "tls_policy");
	app->tls_config = pn_config_str(cfg, "tls_config");
	app->sso_header = pn_config_str(cfg, "sso_header");
	app->secure_cookies = pn_config_bool(cfg, "secure_cookies");
	app->trail_file = "";
	app->trail_key_file = "";
	if (check_sso(cfg, &app->sso_proxies, err) < 0)
		goto fail;
	/* the archive, as postern-archive's tools open it */
	app->arc_cfg = load_other(pn_config_str(cfg, "archive_config"), &archive_engine,
				  &app->arc_table, err);
	if (app->arc_cfg == NULL || (app->arc_state = archive_engine.load(app->arc_cfg, err)) == NULL)
		goto fail;
	app->archive = archive_of(app->arc_state);
	app->access_log = pn_config_str(app->arc_cfg, "access_log");
	if (*key) {
		const char *cert = pn_config_str(cfg, "archive_cert_file");
		if ((app->arc_key = arc_key_load(key, *cert ? cert : NULL, err)) == NULL)
			goto fail;
		app->archive->key = app->arc_key;
	}
	if (*pn_config_str(cfg, "audit_config")) {
		app->audit_cfg = load_other(pn_config_str(cfg, "audit_config"), &audit_engine,
					    &app->audit_table, err);
		if (app->audit_cfg == NULL)
			goto fail;
		app->trail_file = pn_config_str(app->audit_cfg, "trail_file");
		app->trail_key_file = pn_config_str(app->audit_cfg, "key_file");
	}
	audit_trail_opts_init(&o);
	o.mode = 0640;
	o.key_file = pn_config_str(cfg, "access_trail_key_file");
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		o.host = host;
	} else {
		o.host = "localhost";
	}
	app->access = audit_trail_open(pn_config_str(cfg, "access_trail"), &o);
	if (RAND_bytes(app->login_key, sizeof(app->login_key)) != 1) {
		*err = pn_strdup("the random generator failed");
		goto fail;
	}
	app->sessions = web_sessions_new((long)pn_config_int(cfg, "session_idle_timeout"),
					 (long)pn_config_int(cfg, "session_lifetime"),
					 (size_t)pn_config_int(cfg, "max_sessions"));
	app->limit_addr = web_limiter_new(table, limit, window);
	app->limit_name = web_limiter_new(table, limit, window);
	return app;
fail:
	app->cfg = NULL;	/* the caller's */
	web_app_close(app);
	return NULL;
}

void web_app_close(web_app *app)
{
	if (app == NULL)
		return;
	if (app->access)
		audit_trail_put(app->access);
	if (app->archive)
		app->archive->key = NULL;
	if (app->arc_state)
		archive_engine.unload(app->arc_state);
	arc_key_free(app->arc_key);
	pn_config_free(app->arc_cfg);
	pn_free(app->arc_table);
	pn_config_free(app->audit_cfg);
	pn_free(app->audit_table);
	OPENSSL_cleanse(app->login_key, sizeof(app->login_key));
	pn_cidr_list_free(app->sso_proxies);
	web_sessions_free(app->sessions);
	web_limiter_free(app->limit_addr);
	web_limiter_free(app->limit_name);
	pn_config_free(app->cfg);
	pthread_mutex_destroy(&app->catch_up_lock);
	pn_free(app);
}

arc_archive *web_archive(web_app *app)
{
	arc_archive *ar = app->archive;
	char *err = NULL;

	long long now;

	if (!ar->shared)
		return ar;
	/* Several hosts: every host's journal first, as the tools do. The
	 * daemons' indexers feed the shared index all along, so a page needs
	 * only what came since the last walk over every host's journals, and
	 * one walk a second serves every request of that second. */
	now = web_now(app);
	pthread_mutex_lock(&app->catch_up_lock);
	if (now != app->caught_up_at) {
		app->caught_up_at = now;
		if (arc_archive_catch_up_all(ar, arc_archive_text, ar, NULL, &err) < 0) {
			pn_log(PN_LOG_WARN, "the index may lag behind the journals: %s", err);
			pn_free(err);
		}
	}
	pthread_mutex_unlock(&app->catch_up_lock);
	return ar;
}
