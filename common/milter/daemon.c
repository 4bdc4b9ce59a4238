/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon - command line, socket, privileges, supervisor and reload
 * (see daemon.h for the interface and the reasons for the process split)
 */
#include "common/milter/daemon.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/detach.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/postfix_milters.h"
#include "common/privs.h"
#include "common/text.h"
#include "common/milter/milter.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "unknown"
#endif

const pn_param pn_daemon_params[] = {
	{"socket", PN_PARAM_STR, "", 0, 0, NULL,
	 "milter socket: unix:/path, inet:PORT@HOST or inet6:PORT@HOST"},
	{"socket_mode", PN_PARAM_STR, "0660", 0, 0, NULL, "permissions of a unix socket (octal)"},
	{"socket_owner", PN_PARAM_STR, "", 0, 0, NULL,
	 "user:group that owns a unix socket (empty: leave as created)"},
	{"user", PN_PARAM_STR, "", 0, 0, NULL,
	 "user to run as after the socket is open, and whose rights root's check and tools "
	 "take before they open the daemon's data (empty: do not change)"},
	{"pidfile", PN_PARAM_STR, "", 0, 0, NULL, "file that receives the supervisor's pid"},
	{"log_level", PN_PARAM_ENUM, "info", 0, 0, "debug|info|warning|error",
	 "lowest level that is logged"},
	{"milter_timeout", PN_PARAM_TIME, "300s", 1, 86400, NULL,
	 "how long to wait for the MTA before giving up on a connection"},
	{"listen_backlog", PN_PARAM_INT, "128", 1, 65535, NULL,
	 "connections the socket queues while all workers are busy"},
	{"metrics_listen", PN_PARAM_STR, "", 0, 0, NULL,
	 "HOST:PORT, [IPV6]:PORT or PORT (127.0.0.1) where Prometheus scrapes GET /metrics "
	 "(empty: no metrics)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

static pn_param *table;		/* daemon + milter + engine parameters */
static char *conn_spec;		/* libmilter keeps this pointer until smfi_main ends */
static char *run_as;		/* user the worker becomes */
static volatile int reloader_running;	/* set in the worker once it can reload */
static const pn_daemon *self;
static const char *config_path;
static int config_given;		/* -c on the command line */
static int metrics_fd = -1;		/* metrics_listen, bound by the supervisor */

/* count_params - entries before the NULL name */
static size_t count_params(const pn_param *p)
{
	size_t n = 0;

	while (p && p[n].name)
		n++;
	return n;
}

/* pn_engine_table - daemon + milter + engine parameters, as a daemon of
 * engine e reads its file (a new table the caller keeps or frees) */
pn_param *pn_engine_table(const pn_engine *e)
{
	size_t a, b, c;
	pn_param *t;

	a = count_params(pn_daemon_params);
	b = count_params(pn_milter_params);
	c = count_params(e->params);
	t = pn_calloc(a + b + c + 1, sizeof(pn_param));
	memcpy(t, pn_daemon_params, a * sizeof(pn_param));
	memcpy(t + a, pn_milter_params, b * sizeof(pn_param));
	if (c)
		memcpy(t + a + b, e->params, c * sizeof(pn_param));
	return t;
}

/* pn_daemon_table - the merged parameter table of daemon d (built once) */
const pn_param *pn_daemon_table(const pn_daemon *d)
{
	size_t i;

	if (table)
		return table;
	table = pn_engine_table(d->engine);
	for (i = 0; table[i].name; i++)
		if (strcmp(table[i].name, "socket") == 0)
			table[i].default_value = d->default_socket;
	return table;
}

/* usage - the --help text */
static void usage(const pn_daemon *d, FILE *out)
{
	const pn_tool *t;

	fprintf(out, "usage: %s [-c FILE] [-f] [-v] [COMMAND [ARGS...]]\n", d->name);
	fprintf(out, "%s - %s\n\n", d->name, d->summary);
	fprintf(out, "options:\n"
		"  -c FILE     configuration file (default %s)\n"
		"  -f          stay in the foreground and log to stderr\n"
		"  -v          log debug messages\n"
		"  --help      this text\n"
		"  --version   print the version\n"
		"Options may come before or after the command.\n\ncommands:\n"
		"  serve       run the milter (default)\n"
		"  check       validate the configuration; exit 0 when it is valid\n"
		"  check --postfix[=DIR]  also list milters Postfix's main.cf/master.cf\n"
		"              name (postconf [-c DIR]) whose sockets accept nothing\n"
		"  config [-n] print parameters and values (-n: only those set in the file)\n",
		d->config_file);
	for (t = d->tools; t && t->name; t++)
		fprintf(out, "  %-11s %s%s%s\n", t->name, t->summary,
			t->args ? "\n              arguments: " : "", t->args ? t->args : "");
	fprintf(out, "\nSee %s(8).\n", d->name);
}

/* utf8_length - bytes of the valid UTF-8 sequence at s (1..4), 0 if none */
static size_t utf8_length(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
	    || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;	/* overlong, surrogate, beyond Unicode, C1 control */
	return n;
}

/* visible - text with control bytes and bytes that are not UTF-8 written
 * as \xNN: an error quotes what it read, and a file can hold anything,
 * such as an escape sequence that would repaint the administrator's
 * terminal or a newline that would forge a second log line */
static char *visible(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	pn_buf b;

	pn_buf_init(&b, 0);
	while (*p) {
		size_t n = utf8_length(p);
		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			pn_buf_printf(&b, "\\x%02x", *p);
			n = 1;
		} else {
			pn_buf_append(&b, p, n);
		}
		p += n;
	}
	return pn_buf_steal(&b, NULL);
}

/* print_fatal - a command's fatal error on stderr, escaped */
static void print_fatal(const pn_daemon *d, const char *err)
{
	char *v = visible(err);

	fprintf(stderr, "%s: fatal: %s\n", d->name, v);
	pn_free(v);
}

/* log_error - the serving process's error, escaped */
static void log_error(const char *err)
{
	char *v = visible(err);

	pn_log(PN_LOG_ERROR, "%s", v);
	pn_free(v);
}

/* load_config - parse the file, printing the error for command-line use */
static pn_config *load_config(const pn_daemon *d, const char *path)
{
	char *err = NULL;
	pn_config *cfg = pn_config_load(path, pn_daemon_table(d), &err);

	if (cfg == NULL) {
		print_fatal(d, err);
		pn_free(err);
	}
	return cfg;
}

/* load_snapshot - configuration plus engine state, or NULL with a message */
static pn_snapshot *load_snapshot(const pn_daemon *d, const char *path, int to_stderr)
{
	char *err = NULL;
	pn_config *cfg;
	pn_snapshot *s;

	if (to_stderr) {
		if ((cfg = load_config(d, path)) == NULL)
			return NULL;
	} else if ((cfg = pn_config_load(path, pn_daemon_table(d), &err)) == NULL) {
		log_error(err);
		pn_free(err);
		return NULL;
	}
	if ((s = pn_snapshot_new(d->engine, cfg, &err)) == NULL) {
		if (to_stderr)
			print_fatal(d, err);
		else
			log_error(err);
		pn_free(err);
	}
	return s;
}

/* snapshot_from - engine state for a configuration loaded already (takes cfg) */
static pn_snapshot *snapshot_from(const pn_daemon *d, pn_config *cfg)
{
	char *err = NULL;
	pn_snapshot *s = pn_snapshot_new(d->engine, cfg, &err);

	if (s == NULL) {
		print_fatal(d, err);
		pn_free(err);
	}
	return s;
}

/* data_user - whose rights root's commands take to touch the daemon's data:
 * the configured user, else the owner of the engine's data directory when
 * that is not root; 1 with uid and gid set, 0 for nobody, -1 on error */
static int data_user(const pn_daemon *d, const pn_config *cfg, uid_t *uid, gid_t *gid)
{
	const char *user = pn_config_str(cfg, "user");
	struct passwd *pw;
	struct stat st;

	if (*user) {
		if ((pw = getpwnam(user)) == NULL) {
			fprintf(stderr, "%s: fatal: %s: parameter \"user\" = \"%s\": unknown user\n",
				d->name, pn_config_path(cfg), user);
			return -1;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		return 1;
	}
	if (d->engine->data_dir_param
	    && stat(pn_config_str(cfg, d->engine->data_dir_param), &st) == 0 && st.st_uid != 0) {
		*uid = st.st_uid;
		*gid = st.st_gid;
		return 1;
	}
	return 0;
}

/* become_data_user - root's command takes the daemon user's rights (reversibly,
 * see privs.h) before it opens anything of the daemon's: a link planted there
 * then leads nowhere the daemon's user could not go anyway */
static int become_data_user(const pn_daemon *d, const pn_config *cfg)
{
	uid_t uid;
	gid_t gid;
	int r;

	if (geteuid() != 0)
		return 0;
	if ((r = data_user(d, cfg, &uid, &gid)) <= 0)
		return r;
	if (pn_privs_become(uid, gid) < 0) {
		fprintf(stderr, "%s: fatal: cannot take the rights of uid %ld: %s\n", d->name,
			(long)uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* socket_path - the file of a unix socket spec, or NULL for inet */
static const char *socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	if (spec[0] == '/')
		return spec;
	return NULL;
}

/* check_socket_spec - libmilter syntax, checked before libmilter sees it */
static const char *check_socket_spec(const char *spec)
{
	const char *p;

	if (socket_path(spec))
		return socket_path(spec)[0] == '/' ? NULL : "unix socket path must be absolute";
	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
		p = strchr(spec, ':') + 1;
		if (*p < '0' || *p > '9')
			return "inet socket needs PORT@HOST, e.g. inet:10025@127.0.0.1";
		return NULL;
	}
	return "socket must start with unix:, inet: or inet6:";
}

/* resolve_owner - "user[:group]" to uid/gid; -1 keeps that part */
static int resolve_owner(const char *spec, uid_t *uid, gid_t *gid)
{
	char *copy = pn_strdup(spec), *colon = strchr(copy, ':');
	int rc = 0;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (colon)
		*colon++ = '\0';
	if (*copy) {
		struct passwd *pw = getpwnam(copy);
		if (pw == NULL)
			rc = -1;
		else
			*uid = pw->pw_uid;
	}
	if (rc == 0 && colon && *colon) {
		struct group *gr = getgrnam(colon);
		if (gr == NULL)
			rc = -1;
		else
			*gid = gr->gr_gid;
	}
	pn_free(copy);
	return rc;
}

/* validate_daemon_params - what the parser cannot know: socket, mode, users */
static int validate_daemon_params(const pn_daemon *d, const pn_config *cfg)
{
	const char *why, *path = pn_config_path(cfg);
	char *err = NULL;
	mode_t mode;
	uid_t uid;
	gid_t gid;

	if ((why = check_socket_spec(pn_config_str(cfg, "socket"))) != NULL) {
		fprintf(stderr, "%s: fatal: %s: parameter \"socket\" = \"%s\": %s\n", d->name,
			path, pn_config_str(cfg, "socket"), why);
		return -1;
	}
	if (pn_parse_mode(pn_config_str(cfg, "socket_mode"), &mode) < 0) {
		fprintf(stderr, "%s: fatal: %s: parameter \"socket_mode\" = \"%s\": "
			"not an octal mode such as 0660\n", d->name, path,
			pn_config_str(cfg, "socket_mode"));
		return -1;
	}
	if (resolve_owner(pn_config_str(cfg, "socket_owner"), &uid, &gid) < 0) {
		fprintf(stderr, "%s: fatal: %s: parameter \"socket_owner\" = \"%s\": "
			"unknown user or group\n", d->name, path,
			pn_config_str(cfg, "socket_owner"));
		return -1;
	}
	if (*pn_config_str(cfg, "metrics_listen")
	    && pn_http_address_ok(pn_config_str(cfg, "metrics_listen"), &err) < 0) {
		fprintf(stderr, "%s: fatal: %s: parameter \"metrics_listen\": %s\n", d->name, path,
			err);
		pn_free(err);
		return -1;
	}
	if (*pn_config_str(cfg, "user") && getpwnam(pn_config_str(cfg, "user")) == NULL) {
		fprintf(stderr, "%s: fatal: %s: parameter \"user\" = \"%s\": unknown user\n",
			d->name, path, pn_config_str(cfg, "user"));
		return -1;
	}
	return 0;
}

/* open_socket - bind the milter socket with the configured mode and owner */
static int open_socket(const pn_daemon *d, const pn_config *cfg)
{
	const char *spec = pn_config_str(cfg, "socket");
	const char *path = socket_path(spec);
	mode_t mode = 0660, old_mask;
	uid_t uid;
	gid_t gid;
	int rc;

	pn_parse_mode(pn_config_str(cfg, "socket_mode"), &mode);
	pn_free(conn_spec);
	conn_spec = pn_strdup(spec);
	if (smfi_setconn(conn_spec) != MI_SUCCESS
	    || smfi_settimeout((int)pn_config_int(cfg, "milter_timeout")) != MI_SUCCESS
	    || smfi_setbacklog((int)pn_config_int(cfg, "listen_backlog")) != MI_SUCCESS) {
		fprintf(stderr, "%s: fatal: libmilter refused socket %s\n", d->name, spec);
		return -1;
	}
	if (path) {
		/* The run directory may not exist yet on a fresh system. */
		char *dir = pn_strdup(path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				fprintf(stderr, "%s: warning: cannot create %s: %s\n", d->name, dir,
					strerror(errno));
		}
		pn_free(dir);
	}
	old_mask = umask(0777 & ~mode);
	rc = smfi_opensocket(1);	/* 1: remove a stale socket file first */
	umask(old_mask);
	if (rc != MI_SUCCESS) {
		fprintf(stderr, "%s: fatal: cannot open socket %s: %s\n", d->name, spec,
			errno ? strerror(errno) : "libmilter error (see the mail log)");
		return -1;
	}
	if (path) {
		if (chmod(path, mode) < 0)
			fprintf(stderr, "%s: warning: chmod %s: %s\n", d->name, path, strerror(errno));
		if (resolve_owner(pn_config_str(cfg, "socket_owner"), &uid, &gid) == 0
		    && (uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) {
			fprintf(stderr, "%s: fatal: chown %s: %s\n", d->name, path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int data_owner_set;	/* no user set, the data directory has an owner */
static uid_t data_owner_uid;
static gid_t data_owner_gid;

/* drop_privileges - become the configured user for good */
static int drop_privileges(const pn_daemon *d, const char *user)
{
	struct passwd *pw;

	if (*user == '\0' && data_owner_set && getuid() == 0) {
		/* root never works in a directory another user owns: that user
		 * could lead it anywhere with a link */
		if (setgroups(1, &data_owner_gid) < 0 || setgid(data_owner_gid) < 0
		    || setuid(data_owner_uid) < 0 || setuid(0) == 0) {
			fprintf(stderr, "%s: fatal: cannot become uid %ld: %s\n", d->name,
				(long)data_owner_uid, strerror(errno));
			return -1;
		}
		pn_log(PN_LOG_WARN, "\"user\" is not set in %s: running as uid %ld, the owner of"
		       " the data directory", config_path, (long)data_owner_uid);
		return 0;
	}
	if (*user == '\0') {
		if (getuid() == 0)
			pn_log(PN_LOG_WARN, "running as root: set \"user\" in %s", config_path);
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "%s: fatal: unknown user %s\n", d->name, user);
		return -1;
	}
	if (getuid() == pw->pw_uid)
		return 0;
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0
	    || setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "%s: fatal: cannot become user %s: %s\n", d->name, user,
			strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "%s: fatal: privileges could be regained after dropping them\n",
			d->name);
		return -1;
	}
	return 0;
}

/* write_pidfile - record the supervisor's pid */
static int write_pidfile(const pn_daemon *d, const char *path)
{
	FILE *fp;

	if (*path == '\0')
		return 0;
	if ((fp = fopen(path, "w")) == NULL) {
		fprintf(stderr, "%s: fatal: cannot write pidfile %s: %s\n", d->name, path,
			strerror(errno));
		return -1;
	}
	fprintf(fp, "%ld\n", (long)getpid());
	return fclose(fp) == 0 ? 0 : -1;
}

/* apply_log_level - log_level from cfg unless -v asked for debug */
static void apply_log_level(const pn_config *cfg, int verbose)
{
	pn_log_level level = PN_LOG_INFO;

	pn_log_level_parse(pn_config_str(cfg, "log_level"), &level);
	pn_log_set_level(verbose ? PN_LOG_DEBUG : level);
}

static int verbose_flag;

/* One reload at a time: SIGHUP's thread and a connection that saw a
 * watched file change (milter.c) may both ask. */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

/* reload - build a new snapshot from the file and swap it in */
static int reload(void)
{
	pn_snapshot *s, *running;

	pthread_mutex_lock(&reload_lock);
	s = load_snapshot(self, config_path, 0);
	running = pn_snapshot_acquire();
	if (s == NULL) {
		pn_log(PN_LOG_ERROR, "reload failed: keeping the running configuration");
		pn_metric_inc(PN_M_RELOAD_FAILURES, 0);
		pn_snapshot_release(running);
		pthread_mutex_unlock(&reload_lock);
		return -1;
	}
	if (running && strcmp(pn_config_str(running->config, "socket"),
			      pn_config_str(s->config, "socket")) != 0)
		pn_log(PN_LOG_WARN, "socket changed in %s: it takes effect after a restart",
		       config_path);
	pn_snapshot_release(running);
	apply_log_level(s->config, verbose_flag);
	pn_snapshot_install(s);
	if (self->engine->serve)
		self->engine->serve(s->state);
	pn_log(PN_LOG_INFO, "reload: configuration %s loaded (generation %lu)", config_path,
	       s->generation);
	pn_metric_inc(PN_M_RELOADS, 0);
	pthread_mutex_unlock(&reload_lock);
	return 0;
}

/* reloader - worker thread that reloads on SIGUSR1 from the supervisor */
static void *reloader(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) == 0 && sig == SIGUSR1)
			reload();
	}
	return NULL;
}

/* pn_daemon_request_reload - reload as on SIGHUP, from inside the worker */
int pn_daemon_request_reload(void)
{
	/* SIGUSR1 is what the supervisor sends; the reloader thread waits for it
	 * and every other thread blocks it, so this cannot kill the process. */
	if (!reloader_running)
		return -1;
	return kill(getpid(), SIGUSR1) == 0 ? 0 : -1;
}

/* pn_daemon_reload_now - reload as on SIGHUP, in the calling thread */
int pn_daemon_reload_now(void)
{
	if (!reloader_running)
		return -1;
	return reload();
}

static pn_http_server *metrics_server;

/* start_metrics - serve GET /metrics on the socket the supervisor bound
 * (common/metrics.h); threads inherit the worker's signal mask. A failure
 * is logged: the worker serves mail all the same. */
static void start_metrics(void)
{
	pn_http_opts o;
	char *err = NULL;

	memset(&o, 0, sizeof(o));
	o.max_connections = 16;
	o.timeout = 10;
	o.max_body = 4096;
	if ((metrics_server = pn_http_start(metrics_fd, &o, pn_metrics_http, NULL, &err)) == NULL) {
		pn_log(PN_LOG_ERROR, "metrics_listen: %s: serving mail without metrics", err);
		pn_free(err);
	}
}

/* stop_serving - the engine ends what serve() started for the process */
static void stop_serving(const pn_daemon *self)
{
	pn_snapshot *s;

	if (self->engine->stop_serving == NULL || (s = pn_snapshot_acquire()) == NULL)
		return;
	self->engine->stop_serving(s->state);
	pn_snapshot_release(s);
}

/* run_worker - the process that serves mail; returns its exit code */
static int run_worker(void)
{
	sigset_t set;
	pthread_t tid;
	pn_snapshot *s;
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	/* Every thread of this process must block the signals libmilter's
	 * own thread waits for (and USR1, which the reloader waits for);
	 * a thread that left SIGTERM unblocked would die of it instead of
	 * letting libmilter stop cleanly. Threads inherit this mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_SETMASK, &set, NULL);
	/* Engine state (databases, files) is opened here, in the process that
	 * uses it, never inherited across fork. */
	if ((s = load_snapshot(self, config_path, 0)) == NULL)
		return EX_CONFIG;
	apply_log_level(s->config, verbose_flag);
	pn_snapshot_install(s);
	if (self->engine->serve)
		self->engine->serve(s->state);
	if (pthread_create(&tid, NULL, reloader, NULL) != 0) {
		pn_log(PN_LOG_ERROR, "cannot start the reload thread");
		return EX_OSERR;
	}
	pthread_detach(tid);
	reloader_running = 1;
	if (metrics_fd >= 0)
		start_metrics();	/* mail goes on without metrics if it fails */
	pn_log(PN_LOG_INFO, "%s %s: serving on %s", self->name, POSTERN_VERSION,
	       pn_config_str(s->config, "socket"));
	rc = smfi_main();
	/* The supervisor kills a worker that takes more than 30 s */
	if (pn_milter_drain(25) < 0)
		pn_log(PN_LOG_WARN, "stopping with messages still in progress");
	/* The supervisor's wake-up connections (poke_listener) each start a
	 * libmilter thread that reads end-of-file and ends; no callback tells
	 * when. Exiting under one was seen to leave OpenSSL's per-thread
	 * state behind (LeakSanitizer, inet sockets): give them a moment. */
	usleep(250000);
	stop_serving(self);
	pn_log(PN_LOG_INFO, "stopped");
	pn_http_stop(metrics_server);
	metrics_server = NULL;
	pn_snapshot_shutdown();
	pn_free(conn_spec);
	conn_spec = NULL;
	return rc == MI_SUCCESS ? 0 : EX_SOFTWARE;
}

static volatile sig_atomic_t got_hup, got_term, got_chld, got_alarm;

/* poke_listener - connect to our own socket and hang up at once
 *
 * libmilter's listener notices a stop request only between two polls of
 * the listening socket, and each poll waits up to 5 s: a stopping worker
 * would keep its socket (and the admin, and systemd) waiting that long.
 * A connection wakes the poll; the session it starts reads end-of-file
 * and ends without calling any engine hook. The supervisor does this
 * (not the worker) because it keeps root, which a unix socket owned by
 * root:postfix needs. A failure only means the stop takes up to 5 s. */
static void poke_listener(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *path = socket_path(spec), *at;
	int fd, port;

	memset(&ss, 0, sizeof(ss));
	if (path != NULL) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		if (strlen(path) >= sizeof(sun->sun_path))
			return;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		len = sizeof(*sun);
	} else if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
		int v6 = spec[4] == '6';
		port = atoi(strchr(spec, ':') + 1);
		at = strchr(spec, '@');
		if (port <= 0 || port > 65535)
			return;
		if (v6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			/* a wildcard or name: the loopback address reaches it */
			if (at == NULL || inet_pton(AF_INET6, at + 1, &s6->sin6_addr) != 1
			    || IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
				s6->sin6_addr = in6addr_loopback;
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			if (at == NULL || inet_pton(AF_INET, at + 1, &s4->sin_addr) != 1
			    || s4->sin_addr.s_addr == htonl(INADDR_ANY))
				s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof(*s4);
		}
	} else {
		return;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return;
	(void)connect(fd, (struct sockaddr *)&ss, len);
	close(fd);
}

/* stop_timer - tick every 100 ms while the worker stops */
static void stop_timer(int on)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	if (on) {
		it.it_value.tv_usec = 100000;
		it.it_interval.tv_usec = 100000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/* on_signal - the supervisor's handler only records what arrived */
static void on_signal(int sig)
{
	switch (sig) {
	case SIGHUP: got_hup = 1; break;
	case SIGTERM: case SIGINT: got_term = 1; break;
	case SIGCHLD: got_chld = 1; break;
	case SIGALRM: got_alarm = 1; break;
	}
}

/* spawn_worker - fork the serving process */
static pid_t spawn_worker(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Only the worker touches mail, so only it needs to be unprivileged;
		 * the supervisor keeps root to remove the pidfile and the socket. */
		if (drop_privileges(self, run_as) < 0)
			exit(EX_NOPERM);
		exit(run_worker());	/* exit, not _exit: flush logs, let LeakSanitizer check */
	}
	return pid;
}

/* supervise - forward signals to the worker, restart it after a crash */
static int supervise(const char *pidfile, const char *sock_path)
{
	struct sigaction sa;
	sigset_t block, wait_mask;
	time_t restarts[5] = {0};
	int stopping = 0, status, rc = 0, nrestart = 0, ticks = 0;
	pid_t worker, pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigdelset(&wait_mask, SIGHUP);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGCHLD);
	sigdelset(&wait_mask, SIGALRM);

	if ((worker = spawn_worker()) < 0) {
		pn_log(PN_LOG_ERROR, "cannot fork: %s", strerror(errno));
		return EX_OSERR;
	}
	for (;;) {
		if (!got_hup && !got_term && !got_chld && !got_alarm)
			sigsuspend(&wait_mask);
		if (got_term && !stopping) {
			stopping = 1;
			kill(worker, SIGTERM);
			stop_timer(1);	/* poke the listener until the worker is gone */
		}
		got_term = 0;
		if (got_hup) {
			got_hup = 0;
			if (!stopping)
				kill(worker, SIGUSR1);
		}
		if (got_alarm) {
			got_alarm = 0;
			if (stopping && conn_spec != NULL)
				poke_listener(conn_spec);
			/* connections get 30 s to finish */
			if (stopping && ++ticks == 300) {
				pn_log(PN_LOG_WARN, "worker did not stop in time: killing it");
				kill(worker, SIGKILL);
			}
		}
		if (!got_chld)
			continue;
		got_chld = 0;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			time_t now = time(NULL);
			if (pid != worker)
				continue;
			if (stopping || !WIFSIGNALED(status)) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : (stopping ? 0 : EX_SOFTWARE);
				if (!stopping && rc != 0)
					pn_log(PN_LOG_ERROR, "worker exited with status %d", rc);
				goto done;
			}
			pn_log(PN_LOG_ERROR, "worker killed by signal %d: restarting it",
			       WTERMSIG(status));
			if (restarts[nrestart % 5] && now - restarts[nrestart % 5] < 60) {
				pn_log(PN_LOG_ERROR, "5 worker crashes within a minute: giving up");
				rc = EX_SOFTWARE;
				goto done;
			}
			restarts[nrestart++ % 5] = now;
			pn_metric_inc(PN_M_WORKER_RESTARTS, 0);
			sleep(1);
			if ((worker = spawn_worker()) < 0) {
				rc = EX_OSERR;
				goto done;
			}
		}
	}
done:
	stop_timer(0);
	if (*pidfile)
		unlink(pidfile);
	/* libmilter leaves the socket file behind; a stale one misleads admins */
	if (sock_path && rc == 0)
		unlink(sock_path);
	return rc;
}

/* preload - load the engine's state once in a child with the data user's
 * rights, so that errors reach the terminal; its exit code */
static int preload(const pn_daemon *d)
{
	pn_config *cfg;
	pn_snapshot *s;
	int status;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "%s: fatal: cannot fork: %s\n", d->name, strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		if ((cfg = load_config(d, config_path)) == NULL)
			exit(EX_CONFIG);
		if (become_data_user(d, cfg) < 0) {
			pn_config_free(cfg);
			exit(EX_NOPERM);
		}
		if ((s = snapshot_from(d, cfg)) == NULL)
			exit(EX_CONFIG);
		pn_snapshot_release(s);
		exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EX_OSERR;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

/* open_metrics - bind metrics_listen and map the shared counters, both
 * before the first fork: every worker serves the same socket and adds to
 * the same counters, which a worker's crash therefore does not reset */
static int open_metrics(const pn_daemon *d, const pn_config *cfg)
{
	const char *listen_at = pn_config_str(cfg, "metrics_listen");
	char *err = NULL;

	if (*listen_at == '\0')
		return 0;
	if ((metrics_fd = pn_http_listen(listen_at, &err)) < 0) {
		fprintf(stderr, "%s: fatal: %s: parameter \"metrics_listen\": %s\n", d->name,
			pn_config_path(cfg), err);
		pn_free(err);
		return -1;
	}
	if (pn_metrics_init(1) < 0) {
		fprintf(stderr, "%s: fatal: cannot map the metrics: %s\n", d->name,
			strerror(errno));
		close(metrics_fd);
		metrics_fd = -1;
		return -1;
	}
	pn_metrics_set_daemon(d->name);
	pn_metrics_expose(d->engine->name);
	return 0;
}

/* serve - the serve command */
static int serve(const pn_daemon *d, int foreground)
{
	pn_config *cfg;
	char *pidfile, *user, *sock_path;
	const char *path;
	int rc;

	/* Load everything once up front so errors reach the admin's terminal:
	 * the engine's state in a child with the worker's rights (it opens
	 * the daemon's data, which root must not), the configuration here. */
	pn_log_open(d->name, foreground, PN_LOG_INFO);
	if ((rc = preload(d)) != 0)
		return rc;
	if ((cfg = load_config(d, config_path)) == NULL)
		return EX_CONFIG;
	if (validate_daemon_params(d, cfg) < 0) {
		pn_config_free(cfg);
		return EX_CONFIG;
	}
	apply_log_level(cfg, verbose_flag);
	if (!*pn_config_str(cfg, "user") && geteuid() == 0
	    && data_user(d, cfg, &data_owner_uid, &data_owner_gid) > 0)
		data_owner_set = 1;
	if (pn_milter_register(d->name, d->engine) < 0) {
		fprintf(stderr, "%s: fatal: smfi_register failed\n", d->name);
		pn_config_free(cfg);
		return EX_SOFTWARE;
	}
	if (open_socket(d, cfg) < 0) {
		pn_config_free(cfg);
		return EX_UNAVAILABLE;
	}
	if (open_metrics(d, cfg) < 0) {
		pn_config_free(cfg);
		return EX_UNAVAILABLE;
	}
	pidfile = pn_strdup(pn_config_str(cfg, "pidfile"));
	user = pn_strdup(pn_config_str(cfg, "user"));
	path = socket_path(pn_config_str(cfg, "socket"));
	sock_path = path ? pn_strdup(path) : NULL;
	pn_config_free(cfg);		/* the worker loads its own */
	rc = 0;
	if (!foreground && pn_detach() < 0)
		rc = EX_OSERR;
	if (rc == 0 && write_pidfile(d, pidfile) < 0)
		rc = EX_CANTCREAT;
	run_as = user;
	if (rc == 0)
		rc = supervise(pidfile, sock_path);
	pn_free(conn_spec);
	conn_spec = NULL;
	pn_free(sock_path);
	pn_free(pidfile);
	pn_free(user);
	return rc;
}

static int check_postfix;		/* check --postfix[=DIR] */
static const char *postfix_dir;		/* its DIR, or NULL for Postfix's default */

/* postfix_milters - check --postfix: milters main.cf names without a daemon */
static int postfix_milters(const pn_daemon *d, int quiet)
{
	int n;

	/* as the invoker: postconf and the sockets are Postfix's and root's */
	if (pn_privs_invoker_begin() < 0)
		return EX_NOPERM;
	n = pn_postfix_check_milters(postfix_dir, stdout);
	pn_privs_invoker_end();
	if (n == 0 && !quiet)
		printf("%s: every milter Postfix names accepts connections\n", d->name);
	return n < 0 ? EX_UNAVAILABLE : n > 0 ? EX_UNAVAILABLE : 0;
}

/* check - the check command */
static int check(const pn_daemon *d, int quiet)
{
	pn_config *cfg;
	pn_snapshot *s;
	int rc, prc;

	pn_log_open(d->name, 1, verbose_flag ? PN_LOG_DEBUG : PN_LOG_WARN);
	/* Postfix first: after a package's removal, this daemon's own
	 * configuration may be what is left to check the others with */
	prc = check_postfix ? postfix_milters(d, quiet) : 0;
	if ((cfg = load_config(d, config_path)) == NULL)
		return EX_CONFIG;
	if (become_data_user(d, cfg) < 0) {
		pn_config_free(cfg);
		return EX_NOPERM;
	}
	if ((s = snapshot_from(d, cfg)) == NULL)
		return EX_CONFIG;
	rc = validate_daemon_params(d, s->config) < 0 ? EX_CONFIG : prc;
	if (rc != EX_CONFIG && !quiet)
		printf("%s: %s: configuration OK\n", d->name, config_path);
	pn_snapshot_release(s);
	return rc;
}

/* show_config - the config command */
static int show_config(const pn_daemon *d, int only_changed)
{
	pn_config *cfg = load_config(d, config_path);

	if (cfg == NULL)
		return EX_CONFIG;
	pn_config_dump(cfg, stdout, only_changed);
	pn_config_free(cfg);
	return 0;
}

/* run_tool - a daemon-specific command with the loaded configuration */
static int run_tool(const pn_daemon *d, const pn_tool *t, int argc, char **argv)
{
	pn_snapshot *s;
	int rc;

	pn_log_open(d->name, 1, verbose_flag ? PN_LOG_DEBUG : PN_LOG_WARN);
	if (!config_given && access(config_path, F_OK) < 0 && errno == ENOENT) {
		/* Offline tools are useful before anything is installed: without
		 * -c and without the default file, they run on the defaults. */
		char *err = NULL;
		s = pn_snapshot_new(d->engine, pn_config_defaults(pn_daemon_table(d)), &err);
		if (s == NULL) {
			print_fatal(d, err);
			pn_free(err);
			return EX_CONFIG;
		}
	} else {
		/* the configuration as root (it may name root's files), the
		 * daemon's data with its user's rights */
		pn_config *cfg = load_config(d, config_path);
		if (cfg == NULL)
			return EX_CONFIG;
		if (become_data_user(d, cfg) < 0) {
			pn_config_free(cfg);
			return EX_NOPERM;
		}
		if ((s = snapshot_from(d, cfg)) == NULL)
			return EX_CONFIG;
	}
	optind = 1;
	rc = t->run(s->config, s->state, argc, argv);
	pn_snapshot_release(s);
	return rc;
}

/* tool_option_takes_value - does the tool's synopsis show "--NAME VALUE"
 * (an upper-case word after the option)? The synopsis is the one place
 * that knows a tool's options, so the value of "--from -v" stays the tool's. */
static int tool_option_takes_value(const pn_tool *t, const char *opt, size_t len)
{
	const char *p = t->args;

	while (p && (p = strstr(p, opt)) != NULL) {
		const char *after = p + len;
		if (*after == ' ' && after[1] >= 'A' && after[1] <= 'Z')
			return 1;
		p = after;
	}
	return 0;
}

/* is_global_cluster - "fv", "vc", "cFILE"...: flags -f and -v, then
 * perhaps -c with its value glued on, as getopt reads a cluster */
static int is_global_cluster(const char *letters)
{
	for (; *letters; letters++) {
		if (*letters == 'c')
			return 1;
		if (*letters != 'f' && *letters != 'v')
			return 0;
	}
	return 1;
}

/* take_global_options - remove -c FILE, -v and -f from a tool's arguments
 * (before "--"), so global options may follow the command as they may
 * precede it; *argc shrinks in place. -f means nothing to a tool, which
 * always runs in the foreground: it is accepted and ignored. */
static int take_global_options(const pn_daemon *d, const pn_tool *t, int *argc, char **argv)
{
	int i, out = 1, n = *argc;

	for (i = 1; i < n; i++) {
		const char *a = argv[i];
		size_t len = strcspn(a, "=");

		if (strcmp(a, "--") == 0) {
			while (i < n)
				argv[out++] = argv[i++];
			break;
		}
		if (a[0] == '-' && a[1] == '-' && a[len] == '\0' && i + 1 < n
		    && tool_option_takes_value(t, a, len)) {
			argv[out++] = argv[i++];	/* the option, then its value */
			argv[out++] = argv[i];
			continue;
		}
		if (a[0] == '-' && a[1] != '-' && a[1] != '\0' && is_global_cluster(a + 1)) {
			const char *c = strchr(a + 1, 'c');
			if (strchr(a + 1, 'v') && (c == NULL || strchr(a + 1, 'v') < c))
				verbose_flag = 1;
			if (c && c[1] != '\0') {
				config_path = c + 1;	/* -cFILE, as getopt reads it */
				config_given = 1;
			} else if (c) {
				if (i + 1 >= n) {
					fprintf(stderr, "%s: %s: option -c wants a file\n", d->name,
						t->name);
					return -1;
				}
				config_path = argv[++i];
				config_given = 1;
			}
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

/* parse_options - -c, -f, -v, -n, -q, --help, --version; returns -1 to exit with *rc */
static int parse_options(const pn_daemon *d, int argc, char **argv, int *foreground,
			 int *flag_n, int *quiet, int *rc)
{
	static const struct option longopts[] = {
		{"postfix", optional_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+c:fvnqh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; config_given = 1; break;
		case 'f': *foreground = 1; break;
		case 'v': verbose_flag = 1; break;
		case 'n': *flag_n = 1; break;
		case 'q': *quiet = 1; break;
		case 'P': check_postfix = 1; postfix_dir = optarg; break;
		case 'h': usage(d, stdout); *rc = 0; return -1;
		case 'V': printf("%s %s\n", d->name, POSTERN_VERSION); *rc = 0; return -1;
		default: usage(d, stderr); *rc = EX_USAGE; return -1;
		}
	}
	return 0;
}

/* pn_daemon_main - subcommand dispatch for daemon d */
int pn_daemon_main(const pn_daemon *d, int argc, char **argv)
{
	int foreground = 0, flag_n = 0, quiet = 0, rc = 0;
	const char *cmd;
	const pn_tool *t;

	self = d;
	config_path = d->config_file;
	if (parse_options(d, argc, argv, &foreground, &flag_n, &quiet, &rc) < 0)
		return rc;
	cmd = optind < argc ? argv[optind] : "serve";
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "check") == 0
	    || strcmp(cmd, "config") == 0) {
		if (argc > 0) {
			optind = 1;
			if (parse_options(d, argc, argv, &foreground, &flag_n, &quiet, &rc) < 0)
				return rc;
			if (optind < argc) {
				fprintf(stderr, "%s: %s: unexpected argument \"%s\"\n", d->name, cmd,
					argv[optind]);
				return EX_USAGE;
			}
		}
		if (check_postfix && strcmp(cmd, "check") != 0) {
			fprintf(stderr, "%s: --postfix goes with check\n", d->name);
			return EX_USAGE;
		}
		if (strcmp(cmd, "serve") == 0)
			return serve(d, foreground);
		if (strcmp(cmd, "check") == 0)
			return check(d, quiet);
		return show_config(d, flag_n);
	}
	for (t = d->tools; t && t->name; t++)
		if (strcmp(cmd, t->name) == 0) {
			if (take_global_options(d, t, &argc, argv) < 0)
				return EX_USAGE;
			return run_tool(d, t, argc, argv);
		}
	fprintf(stderr, "%s: unknown command \"%s\" (try --help)\n", d->name, cmd);
	return EX_USAGE;
}
