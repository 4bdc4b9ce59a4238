/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	web_app - postern-web's application: its configuration and what it
 *	opens (the archive, the access trail, users, sessions, limits)
 * SYNOPSIS
 *	#include "milters/web/web_app.h"
 *
 *	extern const pn_param web_params[];
 *	pn_config *web_config_load(const char *path, char **err);
 *	int  web_app_check(const pn_config *cfg, char **err);
 *	web_app *web_app_open(pn_config *cfg, char **err);
 *	void web_app_close(web_app *app);
 *	arc_archive *web_archive(web_app *app);
 *	long long web_now(const web_app *app);
 * DESCRIPTION
 *	web_config_load() reads web.conf (Postfix main.cf syntax, table
 *	web_params). web_app_check() validates what the parser cannot
 *	(addresses, CIDR lists) and reads the archive's and the audit's
 *	configuration files as `check` does. web_app_open() takes cfg and
 *	opens everything the pages use, exactly as postern-archive's tools
 *	do: archive_config is read with the archive daemon's own parameter
 *	table and the archive engine's load() opens the archive (SQLite or
 *	PostgreSQL index alike), so a page and `postern-archive search`
 *	see the same deliveries through the same functions. audit_config
 *	gives the message trail (trail_file) and its key for verification;
 *	tls_policy (or tls_config's policy_file) the TLS page's policy.
 *
 *	web_archive() is the archive, its index first caught up with every
 *	host's journal when several hosts share it (as the tools do).
 *	web_now() is the application's clock (time(NULL) unless a test
 *	set app->now).
 * DIAGNOSTICS
 *	NULL or -1 with *err (pn_free) naming the file and the parameter.
 */
#ifndef WEB_APP_H
#define WEB_APP_H

#include "common/cidr.h"
#include <pthread.h>

#include "common/config.h"
#include "milters/archive/archive.h"
#include "milters/audit/trail.h"
#include "milters/web/ratelimit.h"
#include "milters/web/session.h"
#include "milters/web/web.h"

struct web_app {
	pn_config *cfg;			/* web.conf */
	pn_param *arc_table;		/* archive.conf's table (outlives arc_cfg) */
	pn_config *arc_cfg;
	void *arc_state;		/* the archive engine's state */
	arc_archive *archive;
	arc_key *arc_key;		/* archive_key_file: decrypts for the web, or NULL */
	pn_param *audit_table;
	pn_config *audit_cfg;
	const char *trail_file;		/* the message trail (audit.conf) */
	const char *trail_key_file;	/* its sealing key, "" none */
	const char *tls_policy;		/* postern-tls policy file, "" none */
	const char *tls_config;
	const char *users_file;
	const char *access_log;		/* the archive's access_log, "" none */
	audit_trail *access;		/* access_trail */
	web_sessions *sessions;
	web_limiter *limit_addr;		/* failed logins per client address */
	web_limiter *limit_name;		/* and per user name */
	pn_cidr_list *sso_proxies;
	const char *sso_header;		/* "" : no SSO */
	int secure_cookies;
	unsigned char login_key[32];	/* signs the login form's tokens */
	long long (*now)(void);		/* tests: an injectable clock */
	pthread_mutex_t catch_up_lock;	/* web_archive(): one catch-up at a time */
	long long caught_up_at;		/* and at most one a second */
};

extern const pn_param web_params[];

pn_config *web_config_load(const char *path, char **err);
int web_app_check(const pn_config *cfg, char **err);
web_app *web_app_open(pn_config *cfg, char **err);
void web_app_close(web_app *app);
arc_archive *web_archive(web_app *app);
long long web_now(const web_app *app);

#endif
