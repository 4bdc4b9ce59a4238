/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_submit - postern-sort's outbound mail (sort_submit.h)
 *
 * A spool file is "postern-submit 1\n", "F" and the envelope sender, one
 * "R" line per recipient, an empty line, then the message with LF line
 * ends (the sendmail binary takes them; SMTP gets CRLF and dot-stuffing).
 * Files are named "m<time>.<pid>.<counter>" and written by
 * pn_replace_file() (NAME.tmp, then renamed), so the thread never reads a
 * part of one.
 */
#include "milters/sort/sort_submit.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "postern-submit 1\n"
#define RETRY_SECONDS 60
#define MAX_PER_PASS 1000	/* files looked at in one pass of the spool */
#define MAX_FILE (16 * 1024 * 1024)
#define MAX_RCPTS 64
#define SMTP_TIMEOUT 60		/* seconds for one SMTP read or write */
#define MAX_REPLY_LINES 100

enum { SENT = 0, LATER = 1, DROP = -1 };

struct sort_submit {
	char *dir;
	char *method;		/* "sendmail" or "smtp" */
	char *path;		/* sendmail: the binary */
	char *host, *port;	/* smtp */
	unsigned max_queue;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop, woken, started;
	unsigned queued;	/* files waiting: counted at start, then kept */
	unsigned long counter;
	int refs;		/* states (configurations) that use it */
	struct sort_submit *next;
};

/* one sender per spool directory in the process: a reload's new state and
 * the old one share it, so no file is ever sent by two threads */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static sort_submit *registry;

/* sort_submit_method_valid - "sendmail:/abs/path" or "smtp:host:port" */
int sort_submit_method_valid(const char *method, char **err)
{
	const char *colon;

	if (strncmp(method, "sendmail:", 9) == 0) {
		if (method[9] != '/') {
			*err = pn_asprintf("submit_method \"%s\": sendmail: needs an absolute "
					   "path", method);
			return -1;
		}
		return 0;
	}
	if (strncmp(method, "smtp:", 5) == 0) {
		colon = strrchr(method + 5, ':');
		if (colon == NULL || colon == method + 5 || colon[1] == '\0'
		    || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
			*err = pn_asprintf("submit_method \"%s\": expected smtp:HOST:PORT", method);
			return -1;
		}
		return 0;
	}
	*err = pn_asprintf("submit_method \"%s\": expected sendmail:PATH or smtp:HOST:PORT",
			   method);
	return -1;
}

/* ---- sendmail --------------------------------------------------------- */

/* via_sendmail - run the binary with the message on its standard input */
static int via_sendmail(sort_submit *sb, const char *from, char **rcpts, size_t n,
			const char *msg, size_t len)
{
	const char *argv[MAX_RCPTS + 7];
	size_t k, a = 0;
	int fds[2], status;
	pid_t pid;

	argv[a++] = sb->path;
	argv[a++] = "-i";
	argv[a++] = "-f";
	argv[a++] = from[0] ? from : "<>";
	argv[a++] = "--";
	for (k = 0; k < n; k++)
		argv[a++] = rcpts[k];
	argv[a] = NULL;
	if (access(sb->path, X_OK) < 0) {
		/* not installed yet, or a typo: keep the mail, say so */
		pn_log(PN_LOG_WARN, "sort: %s: %s: retry in %d s", sb->path, strerror(errno),
		       RETRY_SECONDS);
		return LATER;
	}
	if (pipe(fds) < 0)
		return LATER;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return LATER;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		/* sendmail gets the message, not the daemon's sockets and files */
		pn_cloexec_above_stdio();
		execv(sb->path, (char *const *)argv);
		_exit(75);
	}
	close(fds[0]);
	(void)pn_write_all(fds[1], msg, len);
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return LATER;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return SENT;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 75) {
		pn_log(PN_LOG_ERROR, "sort: %s exited with status %d: message dropped", sb->path,
		       WEXITSTATUS(status));
		return DROP;
	}
	pn_log(PN_LOG_WARN, "sort: %s failed for now: retry in %d s", sb->path, RETRY_SECONDS);
	return LATER;
}

/* ---- SMTP ------------------------------------------------------------- */

typedef struct smtp {
	int fd;
	char buf[4096];
	size_t have;
	char last[512];		/* last reply line, for the log */
} smtp;

/* smtp_reply - the code of the next (multi-line) reply, or -1 */
static int smtp_reply(smtp *s)
{
	int lines = 0;

	for (;;) {
		char *nl = memchr(s->buf, '\n', s->have);
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - s->buf) + 1;
			int code, more;
			snprintf(s->last, sizeof(s->last), "%.*s", (int)(n > 1 ? n - 1 : 0), s->buf);
			more = n > 4 && s->buf[3] == '-';
			code = n > 3 ? atoi(s->buf) : -1;
			memmove(s->buf, s->buf + n, s->have - n);
			s->have -= n;
			if (++lines > MAX_REPLY_LINES || code < 200 || code > 599)
				return -1;
			if (!more)
				return code;
			continue;
		}
		if (s->have == sizeof(s->buf))
			return -1;	/* a line longer than any SMTP reply */
		r = read(s->fd, s->buf + s->have, sizeof(s->buf) - s->have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s->have += (size_t)r;
	}
}

static int smtp_cmd(smtp *s, const char *line)
{
	return pn_write_all(s->fd, line, strlen(line)) < 0 ? -1 : smtp_reply(s);
}

/* smtp_connect - a connected socket with timeouts, or -1 */
static int smtp_connect(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	struct timeval tv = {SMTP_TIMEOUT, 0};
	int fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* outcome - what a reply code means for the message */
static int outcome(int code)
{
	return code >= 500 ? DROP : LATER;
}

/* via_smtp - one transaction; the body with CRLF and dot-stuffing */
static int via_smtp(sort_submit *sb, const char *from, char **rcpts, size_t n,
		    const char *msg, size_t len)
{
	smtp s;
	char line[1100], host[256];
	size_t k, i, ok = 0;
	int code, rc = LATER;
	pn_buf b;

	memset(&s, 0, sizeof(s));
	if ((s.fd = smtp_connect(sb->host, sb->port)) < 0) {
		pn_log(PN_LOG_WARN, "sort: cannot connect to %s:%s: retry in %d s", sb->host,
		       sb->port, RETRY_SECONDS);
		return LATER;
	}
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if ((code = smtp_reply(&s)) != 220)
		goto fail;
	snprintf(line, sizeof(line), "EHLO %s\r\n", host);
	if ((code = smtp_cmd(&s, line)) != 250)
		goto fail;
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
	if ((code = smtp_cmd(&s, line)) != 250)
		goto fail;
	for (k = 0; k < n; k++) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", rcpts[k]);
		code = smtp_cmd(&s, line);
		if (code == 250 || code == 251)
			ok++;
		else if (code < 0)
			goto fail;
		else
			pn_log(PN_LOG_WARN, "sort: %s:%s refused recipient <%s>: %s", sb->host,
			       sb->port, rcpts[k], s.last);
	}
	if (ok == 0) {
		code = 550;
		goto fail;
	}
	if ((code = smtp_cmd(&s, "DATA\r\n")) != 354)
		goto fail;
	pn_buf_init(&b, MAX_FILE * 2);
	for (i = 0; i < len;) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - msg) : len, l = e - i;
		if (l && msg[i + l - 1] == '\r')
			l--;
		if (l && msg[i] == '.')
			pn_buf_putc(&b, '.');
		pn_buf_append(&b, msg + i, l);
		pn_buf_puts(&b, "\r\n");
		i = nl ? e + 1 : len;
	}
	pn_buf_puts(&b, ".\r\n");
	if (pn_write_all(s.fd, pn_buf_str(&b), pn_buf_len(&b)) < 0)
		code = -1;
	else
		code = smtp_reply(&s);
	pn_buf_free(&b);
	if (code != 250)
		goto fail;
	(void)smtp_cmd(&s, "QUIT\r\n");
	close(s.fd);
	return SENT;
fail:
	rc = code < 0 ? LATER : outcome(code);
	pn_log(rc == DROP ? PN_LOG_ERROR : PN_LOG_WARN, "sort: %s:%s: %s%s", sb->host, sb->port,
	       code < 0 ? "connection failed" : s.last,
	       rc == DROP ? ": message dropped" : ": retry later");
	(void)pn_write_all(s.fd, "QUIT\r\n", 6);
	close(s.fd);
	return rc;
}

/* ---- the spool -------------------------------------------------------- */

/* send_file - one spooled message: SENT, LATER or DROP */
static int send_file(sort_submit *sb, const char *path)
{
	size_t len, n = 0;
	char *data = pn_read_file(path, MAX_FILE, &len), *p, *body, *from = NULL;
	char *rcpts[MAX_RCPTS];
	int rc;

	if (data == NULL)
		return errno == ENOENT ? SENT : DROP;
	if (len < strlen(MAGIC) || memcmp(data, MAGIC, strlen(MAGIC)) != 0
	    || (body = strstr(data, "\n\n")) == NULL) {
		pn_log(PN_LOG_ERROR, "sort: %s is not a spooled message: removed", path);
		pn_free(data);
		return DROP;
	}
	body[1] = '\0';	/* ends the envelope lines */
	body += 2;
	for (p = data + strlen(MAGIC); *p; ) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		if (p[0] == 'F')
			from = p + 1;
		else if (p[0] == 'R' && n < MAX_RCPTS)
			rcpts[n++] = p + 1;
		p = nl + 1;
	}
	if (from == NULL || n == 0) {
		pn_log(PN_LOG_ERROR, "sort: %s has no sender or no recipient: removed", path);
		pn_free(data);
		return DROP;
	}
	{
		/* a reload may change the method: use one consistent copy */
		sort_submit cur;
		memset(&cur, 0, sizeof(cur));
		pthread_mutex_lock(&sb->lock);
		cur.method = pn_strdup(sb->method);
		cur.path = sb->path ? pn_strdup(sb->path) : NULL;
		cur.host = sb->host ? pn_strdup(sb->host) : NULL;
		cur.port = sb->port ? pn_strdup(sb->port) : NULL;
		pthread_mutex_unlock(&sb->lock);
		if (strcmp(cur.method, "sendmail") == 0)
			rc = via_sendmail(&cur, from, rcpts, n, body, len - (size_t)(body - data));
		else
			rc = via_smtp(&cur, from, rcpts, n, body, len - (size_t)(body - data));
		pn_free(cur.method);
		pn_free(cur.path);
		pn_free(cur.host);
		pn_free(cur.port);
	}
	if (rc == SENT)
		pn_log(PN_LOG_INFO, "sort: sent %s to %s%s", from[0] ? "a message" : "a reply",
		       rcpts[0], n > 1 ? " and others" : "");
	pn_free(data);
	return rc;
}

/* spool_name - a spooled message's file name (not a temporary file) */
static int spool_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] == 'm' && !(n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

/* spooled - messages a previous run left in dir */
static unsigned spooled(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (spool_name(e->d_name))
			n++;
	closedir(d);
	return n;
}

/* pass - every spooled message once; returns how many wait for a retry */
static unsigned pass(sort_submit *sb)
{
	DIR *d = opendir(sb->dir);
	struct dirent *e;
	unsigned left = 0, seen = 0;

	if (d == NULL) {
		pn_log(PN_LOG_ERROR, "sort: cannot open %s: %s", sb->dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) != NULL && seen < MAX_PER_PASS) {
		char *path;
		int rc;

		if (!spool_name(e->d_name))
			continue;
		seen++;
		pthread_mutex_lock(&sb->lock);
		rc = sb->stop;
		pthread_mutex_unlock(&sb->lock);
		if (rc) {
			left++;
			continue;
		}
		path = pn_asprintf("%s/%s", sb->dir, e->d_name);
		rc = send_file(sb, path);
		if (rc == LATER)
			left++;
		else if (unlink(path) == 0) {
			pthread_mutex_lock(&sb->lock);
			if (sb->queued)
				sb->queued--;
			pthread_mutex_unlock(&sb->lock);
		}
		pn_free(path);
	}
	closedir(d);
	return left;
}

static void *sender(void *arg)
{
	sort_submit *sb = arg;
	sigset_t set;

	/* a sendmail that dies early must not kill the daemon with SIGPIPE */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&sb->lock);
	while (!sb->stop) {
		unsigned left;
		struct timespec until;

		sb->woken = 0;
		pthread_mutex_unlock(&sb->lock);
		left = pass(sb);
		pthread_mutex_lock(&sb->lock);
		if (sb->stop || sb->woken)
			continue;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += left ? RETRY_SECONDS : 3600;
		while (!sb->stop && !sb->woken)
			if (pthread_cond_timedwait(&sb->wake, &sb->lock, &until) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&sb->lock);
	return NULL;
}

/* make_dir - the spool directory, mode 0700, parents as needed */
static int make_dir(const char *dir)
{
	char *p = pn_strdup(dir), *s;
	int rc = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		rc = -1;
	else
		rc = 0;
	pn_free(p);
	return rc;
}

/* set_method - the method's parts into sb (under sb->lock once running) */
static void set_method(sort_submit *sb, const char *method)
{
	pn_free(sb->method);
	pn_free(sb->path);
	pn_free(sb->host);
	pn_free(sb->port);
	sb->path = sb->host = sb->port = NULL;
	if (strncmp(method, "sendmail:", 9) == 0) {
		sb->method = pn_strdup("sendmail");
		sb->path = pn_strdup(method + 9);
	} else {
		const char *colon = strrchr(method + 5, ':');
		sb->method = pn_strdup("smtp");
		size_t n = (size_t)(colon - method - 5);
		/* smtp:[::1]:25: the brackets are not part of the address */
		if (n > 2 && method[5] == '[' && colon[-1] == ']')
			sb->host = pn_strndup(method + 6, n - 2);
		else
			sb->host = pn_strndup(method + 5, n);
		sb->port = pn_strdup(colon + 1);
	}
}

sort_submit *sort_submit_new(const char *spool_dir, const char *method, unsigned max_queue,
			     char **err)
{
	sort_submit *sb;

	if (sort_submit_method_valid(method, err) < 0)
		return NULL;
	if (spool_dir[0] != '/' || make_dir(spool_dir) < 0) {
		*err = pn_asprintf("submit_spool_dir \"%s\": %s", spool_dir,
				   spool_dir[0] != '/' ? "not an absolute path" : strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&registry_lock);
	for (sb = registry; sb; sb = sb->next)
		if (strcmp(sb->dir, spool_dir) == 0) {
			pthread_mutex_lock(&sb->lock);
			set_method(sb, method);
			sb->max_queue = max_queue;
			pthread_mutex_unlock(&sb->lock);
			sb->refs++;
			pthread_mutex_unlock(&registry_lock);
			return sb;
		}
	sb = pn_calloc(1, sizeof(*sb));
	sb->dir = pn_strdup(spool_dir);
	sb->max_queue = max_queue;
	sb->refs = 1;
	set_method(sb, method);
	sb->queued = spooled(spool_dir);
	pthread_mutex_init(&sb->lock, NULL);
	pthread_cond_init(&sb->wake, NULL);
	if (pthread_create(&sb->thread, NULL, sender, sb) != 0) {
		pthread_mutex_unlock(&registry_lock);
		*err = pn_asprintf("cannot start the sender thread");
		sort_submit_free(sb);
		return NULL;
	}
	sb->started = 1;
	sb->next = registry;
	registry = sb;
	pthread_mutex_unlock(&registry_lock);
	return sb;
}

int sort_submit_queue(sort_submit *sb, const char *env_from, const char *rcpts,
		      const char *msg, size_t len)
{
	pn_buf b;
	const char *p = rcpts, *step = NULL;
	char *path;
	unsigned long id;
	int rc;

	pthread_mutex_lock(&sb->lock);
	if (sb->queued >= sb->max_queue) {
		pthread_mutex_unlock(&sb->lock);
		pn_log(PN_LOG_ERROR, "sort: %u messages wait in %s (submit_max_queue): a reply to "
		       "%s is dropped", sb->queued, sb->dir, rcpts);
		return -1;
	}
	sb->queued++;
	id = ++sb->counter;
	pthread_mutex_unlock(&sb->lock);
	pn_buf_init(&b, MAX_FILE);
	pn_buf_puts(&b, MAGIC);
	if (strpbrk(env_from, "\r\n>") != NULL)
		env_from = "";	/* never a line of the SMTP dialogue */
	pn_buf_printf(&b, "F%s\n", env_from);
	while (p && *p) {
		const char *e = strstr(p, ", ");
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n && memchr(p, '\n', n) == NULL && memchr(p, '\r', n) == NULL
		    && memchr(p, '>', n) == NULL) {
			pn_buf_putc(&b, 'R');
			pn_buf_append(&b, p, n);
			pn_buf_putc(&b, '\n');
		}
		p = e ? e + 2 : NULL;
	}
	pn_buf_putc(&b, '\n');
	rc = pn_buf_append(&b, msg, len);
	path = pn_asprintf("%s/m%ld.%ld.%lu", sb->dir, (long)time(NULL), (long)getpid(), id);
	if (rc == 0)
		rc = pn_replace_file(path, pn_buf_str(&b), pn_buf_len(&b), 0, &step);
	if (rc < 0)
		pn_log(PN_LOG_ERROR, "sort: cannot spool a message to %s in %s: %s%s%s", rcpts,
		       sb->dir, step ? step : "too large", step ? ": " : "",
		       step ? strerror(errno) : "");
	pn_free(path);
	pn_buf_free(&b);
	pthread_mutex_lock(&sb->lock);
	sb->woken = 1;
	pthread_cond_signal(&sb->wake);
	pthread_mutex_unlock(&sb->lock);
	return rc < 0 ? -1 : 0;
}

void sort_submit_free(sort_submit *sb)
{
	sort_submit **pp;

	if (sb == NULL)
		return;
	if (sb->started) {
		pthread_mutex_lock(&registry_lock);
		if (--sb->refs > 0) {
			pthread_mutex_unlock(&registry_lock);
			return;
		}
		for (pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == sb) {
				*pp = sb->next;
				break;
			}
		pthread_mutex_unlock(&registry_lock);
		pthread_mutex_lock(&sb->lock);
		sb->stop = 1;
		pthread_cond_signal(&sb->wake);
		pthread_mutex_unlock(&sb->lock);
		pthread_join(sb->thread, NULL);
	}
	pthread_mutex_destroy(&sb->lock);
	pthread_cond_destroy(&sb->wake);
	pn_free(sb->dir);
	pn_free(sb->method);
	pn_free(sb->path);
	pn_free(sb->host);
	pn_free(sb->port);
	pn_free(sb);
}
