/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-web - the web console over the archive and the audit trail
 *
 * Not a milter: a small HTTP daemon (common/http.h, GNU libmicrohttpd)
 * whose pages call the archive's and the audit's engines, so the browser
 * and `postern-archive search/get/export/hold` always agree. Commands:
 * serve, check, config, passwd. See postern-web(8), postern-web.conf(5).
 */
#include "common/alloc.h"
#include "common/detach.h"
#include "common/http.h"
#include "common/log.h"
#include "milters/web/pages.h"
#include "milters/web/users.h"
#include "milters/web/web_app.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#define NAME "postern-web"
#define DEFAULT_CONFIG "/etc/postern/web.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " NAME " [-c FILE] [-f] [-v] [COMMAND [ARGS]]\n"
		"       " NAME " --help | --version\n"
		"web console over the Postern archive and audit trail\n\n"
		"options:\n"
		"  -c FILE   configuration file (default " DEFAULT_CONFIG ")\n"
		"  -f        stay in the foreground (serve), log to stderr too\n"
		"  -v        log debug messages\n\n"
		"commands:\n"
		"  serve                       run the console (default)\n"
		"  check                       load the configuration, the archive and the\n"
		"                              audit configuration; exit 0 when valid\n"
		"  config [-n]                 print every parameter (-n: only those set)\n"
		"  passwd USER [--role ROLE]   set USER's password (read from standard input)\n"
		"                              and role (auditor or admin) in users_file\n");
}

/* load - the configuration; the defaults when -c was not given and the
 * default file does not exist (passwd and config before installation) */
static pn_config *load(const char *path, int given)
{
	char *err = NULL;
	pn_config *cfg;

	if (!given && access(path, F_OK) < 0 && errno == ENOENT)
		return pn_config_defaults(web_params);
	if ((cfg = web_config_load(path, &err)) == NULL) {
		fprintf(stderr, NAME ": fatal: %s\n", err);
		pn_free(err);
	}
	return cfg;
}

/* drop_privileges - become `user` for good, after the listener is bound */
static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (*user == '\0') {
		if (getuid() == 0)
			pn_log(PN_LOG_WARN, "running as root: set \"user\" in the configuration");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		pn_log(PN_LOG_ERROR, "unknown user %s", user);
		return -1;
	}
	if (getuid() == pw->pw_uid)
		return 0;
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		pn_log(PN_LOG_ERROR, "cannot become user %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		pn_log(PN_LOG_ERROR, "privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

static int serve(pn_config *cfg, int foreground, int verbose)
{
	/* a copy: the configuration goes with the application at the end */
	char pidfile[4096];
	pn_log_level level = PN_LOG_INFO;
	pn_http_opts o;
	pn_http_server *srv;
	web_app *app;
	sigset_t set;
	char *err = NULL;
	int fd, sig;

	snprintf(pidfile, sizeof(pidfile), "%s", pn_config_str(cfg, "pidfile"));
	pn_log_level_parse(pn_config_str(cfg, "log_level"), &level);
	pn_log_open(NAME, foreground, verbose ? PN_LOG_DEBUG : level);
	if (web_app_check(cfg, &err) < 0) {
		fprintf(stderr, NAME ": fatal: %s\n", err);
		pn_free(err);
		pn_config_free(cfg);
		return EX_CONFIG;
	}
	/* bound as root (a port below 1024), used as `user` */
	if ((fd = pn_http_listen(pn_config_str(cfg, "listen"), &err)) < 0) {
		fprintf(stderr, NAME ": fatal: %s\n", err);
		pn_free(err);
		pn_config_free(cfg);
		return EX_UNAVAILABLE;
	}
	if (!foreground && pn_detach() < 0) {
		fprintf(stderr, NAME ": fatal: cannot detach: %s\n", strerror(errno));
		pn_config_free(cfg);
		return EX_OSERR;
	}
	if (*pidfile) {
		FILE *fp = fopen(pidfile, "w");
		if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0) {
			pn_log(PN_LOG_ERROR, "cannot write pidfile %s: %s", pidfile, strerror(errno));
			pn_config_free(cfg);
			return EX_CANTCREAT;
		}
	}
	if (drop_privileges(pn_config_str(cfg, "user")) < 0) {
		pn_config_free(cfg);
		return EX_NOPERM;
	}
	/* signals are taken by sigwait below, not by the server's threads */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((app = web_app_open(cfg, &err)) == NULL) {
		pn_log(PN_LOG_ERROR, "%s", err);
		if (foreground)
			fprintf(stderr, NAME ": fatal: %s\n", err);
		pn_free(err);
		pn_config_free(cfg);
		close(fd);
		return EX_CONFIG;
	}
	memset(&o, 0, sizeof(o));
	o.max_connections = (unsigned)pn_config_int(cfg, "max_connections");
	o.tls_cert_file = *pn_config_str(cfg, "tls_cert_file") ? pn_config_str(cfg, "tls_cert_file")
			  : NULL;
	o.tls_key_file = *pn_config_str(cfg, "tls_key_file") ? pn_config_str(cfg, "tls_key_file")
			 : NULL;
	if ((srv = pn_http_start(fd, &o, web_handle, app, &err)) == NULL) {
		pn_log(PN_LOG_ERROR, "%s", err);
		pn_free(err);
		web_app_close(app);
		return EX_UNAVAILABLE;
	}
	pn_log(PN_LOG_INFO, "serving on %s%s", pn_config_str(cfg, "listen"),
	       o.tls_cert_file ? " (HTTPS)" : "");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			/* nothing cached to reload: users_file is read at every login */
			pn_log(PN_LOG_INFO, "SIGHUP: users_file is read at each login; restart to "
			       "apply other changes");
			continue;
		}
		break;
	}
	pn_log(PN_LOG_INFO, "stopping");
	pn_http_stop(srv);
	web_app_close(app);
	if (*pidfile)
		unlink(pidfile);
	return 0;
}

/* read_password - one line of standard input; a terminal gets a prompt
 * without echo, twice */
static char *read_password(const char *user)
{
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;
	char *line = NULL, *again = NULL;
	size_t cap = 0, cap2 = 0;
	ssize_t n;

	if (tty) {
		fprintf(stderr, "Password for %s: ", user);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, stdin);
	if (tty) {
		fprintf(stderr, "\nAgain: ");
		if (n >= 0 && getline(&again, &cap2, stdin) < 0) {
			free(again);
			again = NULL;
		}
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (tty) {
		if (again == NULL || (again[strcspn(again, "\r\n")] = '\0', strcmp(line, again) != 0)) {
			fprintf(stderr, NAME ": passwd: the passwords differ\n");
			free(line);
			free(again);
			return NULL;
		}
		free(again);
	}
	return line;
}

static int passwd(pn_config *cfg, int argc, char **argv)
{
	const char *user = NULL, *role_arg = NULL, *path = pn_config_str(cfg, "users_file");
	char hash[WEB_HASH_MAX], old_hash[WEB_HASH_MAX], *pw, *err = NULL;
	web_user existing;
	web_role role;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role_arg = argv[++i];
		else if (strncmp(argv[i], "--role=", 7) == 0)
			role_arg = argv[i] + 7;
		else if (argv[i][0] != '-' && user == NULL)
			user = argv[i];
		else {
			fprintf(stderr, "usage: " NAME " passwd USER [--role auditor|admin]\n");
			return EX_USAGE;
		}
	}
	if (user == NULL) {
		fprintf(stderr, "usage: " NAME " passwd USER [--role auditor|admin]\n");
		return EX_USAGE;
	}
	if (!web_user_name_ok(user)) {
		fprintf(stderr, NAME ": passwd: refusing user name: 1 to 127 characters, no ':' "
			"and no control characters\n");
		return EX_USAGE;
	}
	if (role_arg && (role = web_role_parse(role_arg)) == WEB_ROLE_NONE) {
		fprintf(stderr, NAME ": passwd: --role %s: auditor or admin\n", role_arg);
		return EX_USAGE;
	}
	if (role_arg == NULL) {
		/* an existing account keeps its role; a new one reads only */
		rc = access(path, F_OK) == 0 ? web_users_lookup(path, user, &existing, old_hash,
								 sizeof(old_hash), &err) : 0;
		if (rc < 0) {
			fprintf(stderr, NAME ": passwd: %s\n", err);
			pn_free(err);
			return EX_NOINPUT;
		}
		role = rc == 1 ? existing.role : WEB_ROLE_AUDITOR;
	}
	if ((pw = read_password(user)) == NULL || *pw == '\0') {
		fprintf(stderr, NAME ": passwd: no password given\n");
		free(pw);
		return EX_DATAERR;
	}
	rc = web_password_hash(pw, hash, sizeof(hash));
	memset(pw, 0, strlen(pw));
	free(pw);
	if (rc < 0) {
		fprintf(stderr, NAME ": passwd: yescrypt hashing failed\n");
		return EX_SOFTWARE;
	}
	umask(027);
	if (web_users_set(path, user, role, hash, &err) < 0) {
		fprintf(stderr, NAME ": passwd: %s\n", err);
		pn_free(err);
		return EX_CANTCREAT;
	}
	printf("%s: %s (%s) set in %s\n", NAME, user, web_role_name(role), path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG, *cmd = "serve";
	int given = 0, foreground = 0, verbose = 0, i, rc;
	char *err = NULL;
	pn_config *cfg;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf(NAME " " POSTERN_VERSION "\n");
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
			given = 1;
		} else if (strcmp(argv[i], "-f") == 0) {
			foreground = 1;
		} else if (strcmp(argv[i], "-v") == 0) {
			verbose = 1;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return EX_USAGE;
		} else {
			break;
		}
	}
	if (i < argc)
		cmd = argv[i];
	if ((cfg = load(path, given)) == NULL)
		return EX_CONFIG;
	if (strcmp(cmd, "serve") == 0)
		return serve(cfg, foreground, verbose);
	if (strcmp(cmd, "check") == 0) {
		pn_log_open(NAME, 1, verbose ? PN_LOG_DEBUG : PN_LOG_WARN);
		rc = web_app_check(cfg, &err);
		if (rc < 0) {
			fprintf(stderr, NAME ": fatal: %s\n", err);
			pn_free(err);
		}
		pn_config_free(cfg);
		return rc < 0 ? EX_CONFIG : 0;
	}
	if (strcmp(cmd, "config") == 0) {
		pn_config_dump(cfg, stdout, i + 1 < argc && strcmp(argv[i + 1], "-n") == 0);
		pn_config_free(cfg);
		return 0;
	}
	if (strcmp(cmd, "passwd") == 0) {
		rc = passwd(cfg, argc - i, argv + i);
		pn_config_free(cfg);
		return rc;
	}
	fprintf(stderr, NAME ": unknown command \"%s\" (try --help)\n", cmd);
	pn_config_free(cfg);
	return EX_USAGE;
}
