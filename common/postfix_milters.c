/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postfix_milters - milters named by Postfix's configuration, and their
 * missing sockets (see postfix_milters.h)
 */
#include "common/postfix_milters.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEPARATORS " \t\r\n,"

/* pn_postfix_milter_list - each socket of a milter list value */
void pn_postfix_milter_list(const char *value, pn_milter_fn fn, void *ctx)
{
	const char *p = value;

	while (*p) {
		p += strspn(p, SEPARATORS);
		if (*p == '\0')
			break;
		if (*p == '{') {
			/* "{ socket, attr=value ... }": the socket is the first word */
			const char *close = strchr(p, '}'), *end = close ? close : p + strlen(p);
			const char *w = p + 1;
			size_t n;
			w += strspn(w, SEPARATORS);
			n = strcspn(w, SEPARATORS "{}");
			if (w + n > end)
				n = (size_t)(end - w);
			if (n > 0)
				fn(ctx, w, n);
			p = close ? close + 1 : end;
			continue;
		}
		{
			size_t n = strcspn(p, SEPARATORS "{}");
			if (n == 0) {
				p++;	/* a stray "}" */
				continue;
			}
			fn(ctx, p, n);
			p += n;
		}
	}
}

/* pn_postconf - the standard output of postconf [-c dir] ARGS, or NULL */
char *pn_postconf(const char *config_dir, const char *a1, const char *a2)
{
	const char *argv[7];
	int fds[2], status, i = 0;
	char *out;
	pid_t pid;

	argv[i++] = "postconf";
	if (config_dir) {
		argv[i++] = "-c";
		argv[i++] = config_dir;
	}
	argv[i++] = a1;
	if (a2)
		argv[i++] = a2;
	argv[i] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return NULL;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		pn_cloexec_above_stdio();
		execvp("postconf", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	out = pn_read_fd(fds[0], 0, NULL);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out == NULL || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		pn_free(out);
		return NULL;
	}
	return out;
}

/* One place the milters of a parameter are looked up from. */
typedef struct check_ctx {
	const char *param;	/* "smtpd_milters" or "submission/inet/smtpd_milters" */
	const char *root;	/* queue_directory when chrooted, else NULL */
	const char *queue_dir;
	FILE *out;
	int problems;
} check_ctx;

/* socket_state - NULL when something accepts on path, else what is wrong */
static const char *socket_state(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? "no such file" : strerror(errno);
	if (!S_ISSOCK(st.st_mode))
		return "not a socket";
	if (strlen(path) >= sizeof(sa.sun_path))
		return "path too long for a socket";
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return strerror(errno);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0)
		return NULL;
	return errno == ECONNREFUSED ? "nobody listens on it (its daemon is stopped)"
				     : strerror(errno);
}

/* check_one - report a milter whose socket Postfix would not reach */
static void check_one(void *arg, const char *spec, size_t len)
{
	check_ctx *c = arg;
	char *s = pn_strndup(spec, len), *path;
	const char *p = s, *why;

	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		fprintf(c->out, "postfix: %s: %s: not checked (a network socket)\n", c->param, s);
		pn_free(s);
		return;
	}
	if (strncmp(s, "unix:", 5) == 0)
		p = s + 5;
	else if (strncmp(s, "local:", 6) == 0)
		p = s + 6;
	/* Postfix's processes work in queue_directory, chrooted or not */
	if (c->root)
		path = pn_asprintf("%s%s%s", c->root, p[0] == '/' ? "" : "/", p);
	else if (p[0] != '/')
		path = pn_asprintf("%s/%s", c->queue_dir, p);
	else
		path = pn_strdup(p);
	if ((why = socket_state(path)) != NULL) {
		fprintf(c->out, "postfix: %s: %s", c->param, s);
		if (strcmp(path, p) != 0)
			fprintf(c->out, " (%s%s)", path, c->root ? " in the chroot" : "");
		fprintf(c->out, ": %s: Postfix defers (default_action=tempfail) or skips this "
			"milter's mail; start its daemon, or delete it from %s and run "
			"\"postfix reload\"\n", why, c->param);
		c->problems++;
	}
	pn_free(path);
	pn_free(s);
}

/* has_line - does text have a line that starts with prefix? */
static int has_line(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncmp(p, prefix, n) == 0)
			return 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

/* chroot_of - how master.cf runs services: for service "name/type", 1 when
 * chrooted, 0 when not, -1 when absent; for service NULL, bit 1 when some
 * service running command without its own "-o param=" (overrides: postconf
 * -P output) is chrooted, bit 0 when some such service is not */
static int chroot_of(const char *master, const char *service, const char *command,
		     const char *overrides, const char *param)
{
	const char *line = master;
	int found = service ? -1 : 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		char *l = pn_strndup(line, nl ? (size_t)(nl - line) : strlen(line));
		char *f[8], *save = NULL, *w;
		int n = 0;

		for (w = strtok_r(l, " \t", &save); w && n < 8; w = strtok_r(NULL, " \t", &save))
			f[n++] = w;
		if (n == 8) {
			char *name = pn_asprintf("%s/%s", f[0], f[1]);
			char *own = service ? NULL : pn_asprintf("%s/%s = ", name, param);
			/* "-": the built-in default, "n" since Postfix 3.0 */
			int chrooted = strcmp(f[4], "y") == 0;
			if (service && strcmp(name, service) == 0)
				found = chrooted;
			else if (!service && strcmp(f[7], command) == 0
				 && !has_line(overrides, own))
				found |= chrooted ? 2 : 1;
			pn_free(own);
			pn_free(name);
		}
		pn_free(l);
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

/* check_param - every milter of one parameter value, as one service sees it */
static void check_param(check_ctx *c, const char *param, const char *value, int chrooted)
{
	c->param = param;
	c->root = chrooted > 0 ? c->queue_dir : NULL;
	pn_postfix_milter_list(value, check_one, c);
}

/* check_main - a main.cf value, as each kind of service that uses it sees it */
static void check_main(check_ctx *c, const char *param, const char *value, const char *master,
		       const char *command, const char *overrides)
{
	int how = chroot_of(master, NULL, command, overrides, param);

	if (how & 1 || how == 0)
		check_param(c, param, value, 0);
	if (how & 2)
		check_param(c, param, value, 1);
}

/* line_at - line index of text (without its newline), "" past the end */
static char *line_at(const char *text, int index)
{
	const char *p = text;
	int i;

	for (i = 0; p && i < index; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p == NULL)
		return pn_strdup("");
	return pn_strndup(p, strcspn(p, "\n"));
}

/* pn_postfix_check_milters - milters Postfix names whose sockets are missing */
int pn_postfix_check_milters(const char *config_dir, FILE *out)
{
	char *main_values, *master, *overrides, *queue_dir, *smtpd, *non_smtpd;
	const char *line;
	check_ctx c;

	memset(&c, 0, sizeof(c));
	c.out = out;
	if ((main_values = pn_postconf(config_dir, "-hx", "queue_directory")) == NULL
	    || (master = pn_postconf(config_dir, "-M", NULL)) == NULL) {
		fprintf(out, "postfix: cannot run postconf%s%s\n", config_dir ? " -c " : "",
			config_dir ? config_dir : "");
		pn_free(main_values);
		return -1;
	}
	queue_dir = line_at(main_values, 0);
	pn_free(main_values);
	c.queue_dir = queue_dir;
	smtpd = pn_postconf(config_dir, "-hx", "smtpd_milters");
	non_smtpd = pn_postconf(config_dir, "-hx", "non_smtpd_milters");
	overrides = pn_postconf(config_dir, "-Px", NULL);
	if (smtpd)
		check_main(&c, "smtpd_milters", smtpd, master, "smtpd", overrides);
	if (non_smtpd)
		check_main(&c, "non_smtpd_milters", non_smtpd, master, "cleanup", overrides);
	/* master.cf "-o smtpd_milters=..." of one service: that service's chroot */
	for (line = overrides; line && *line;) {
		const char *nl = strchr(line, '\n');
		char *l = pn_strndup(line, nl ? (size_t)(nl - line) : strlen(line));
		char *eq = strstr(l, " = "), *slash;
		if (eq) {
			*eq = '\0';
			slash = strrchr(l, '/');
			if (slash && (strcmp(slash + 1, "smtpd_milters") == 0
				      || strcmp(slash + 1, "non_smtpd_milters") == 0)) {
				char *service = pn_strndup(l, (size_t)(slash - l));
				check_param(&c, l, eq + 3,
					    chroot_of(master, service, NULL, NULL, NULL));
				pn_free(service);
			}
		}
		pn_free(l);
		line = nl ? nl + 1 : NULL;
	}
	pn_free(overrides);
	pn_free(smtpd);
	pn_free(non_smtpd);
	pn_free(master);
	pn_free(queue_dir);
	return c.problems;
}
