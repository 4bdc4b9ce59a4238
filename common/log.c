/* SPDX-License-Identifier: BSD-2-Clause */
/* log - Postfix-style logging to syslog and stderr (see log.h) */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDENT_MAX 64

/*
 * The ident lives in static storage because openlog() keeps the pointer.
 * The mutex guards the ident, the destinations and every stderr write;
 * the level is atomic so the filter in front of formatting takes no lock.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[IDENT_MAX] = "postern";
static int log_to_syslog;
static int log_to_stderr = 1;
static FILE *log_stream;
static atomic_int log_min_level = PN_LOG_INFO;
static atomic_int log_dying;

static const char *const level_prefix[] = {
	[PN_LOG_DEBUG] = "debug: ",
	[PN_LOG_INFO] = "",
	[PN_LOG_WARN] = "warning: ",
	[PN_LOG_ERROR] = "error: ",
	[PN_LOG_FATAL] = "fatal: ",
	[PN_LOG_PANIC] = "panic: ",
};

/* Postfix's mapping, so existing syslog filters treat us alike. */
static const int level_priority[] = {
	[PN_LOG_DEBUG] = LOG_DEBUG,
	[PN_LOG_INFO] = LOG_INFO,
	[PN_LOG_WARN] = LOG_WARNING,
	[PN_LOG_ERROR] = LOG_ERR,
	[PN_LOG_FATAL] = LOG_CRIT,
	[PN_LOG_PANIC] = LOG_CRIT,
};

/* stderr_is_journal - is stderr systemd's journal stream (JOURNAL_STREAM)? */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* pn_log_open - name the program and choose destinations and level */
void pn_log_open(const char *ident, int to_stderr, pn_log_level min_level)
{
	pthread_mutex_lock(&log_lock);
	if (log_to_syslog)
		closelog();
	snprintf(log_ident, sizeof(log_ident), "%s",
		 ident && *ident ? ident : "postern");
	/* Under systemd, syslog already reaches the journal (and mail.log):
	 * writing stderr too would show every line twice. */
	log_to_stderr = to_stderr && !stderr_is_journal();
	log_to_syslog = 1;
	/* LOG_NDELAY: connect now, before a daemon may chroot or drop privileges. */
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	pthread_mutex_unlock(&log_lock);
	pn_log_set_level(min_level);
}

/* pn_log_set_level - drop messages below min_level from now on */
void pn_log_set_level(pn_log_level min_level)
{
	atomic_store_explicit(&log_min_level, (int)min_level, memory_order_relaxed);
}

/* pn_log_set_stream - divert stderr-style lines, e.g. into a test file */
void pn_log_set_stream(FILE *fp)
{
	pthread_mutex_lock(&log_lock);
	log_stream = fp;
	pthread_mutex_unlock(&log_lock);
}

/* pn_log_level_parse - level from its configuration name */
int pn_log_level_parse(const char *s, pn_log_level *out)
{
	static const struct {
		const char *name;
		pn_log_level level;
	} names[] = {
		{ "debug", PN_LOG_DEBUG },
		{ "info", PN_LOG_INFO },
		{ "warning", PN_LOG_WARN },
		{ "warn", PN_LOG_WARN },
		{ "error", PN_LOG_ERROR },
	};
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -1;
}

/* pn_log_enabled - would a message at this level be written? */
int pn_log_enabled(pn_log_level level)
{
	return (int)level >= atomic_load_explicit(&log_min_level, memory_order_relaxed);
}

/* add - append a string to the message, noting when it does not fit */
static void add(char *body, size_t *len, int *cut, const char *s)
{
	size_t n = strlen(s);

	if (n > PN_LOG_LINE_MAX - *len) {
		n = PN_LOG_LINE_MAX - *len;
		*cut = 1;
	}
	memcpy(body + *len, s, n);
	*len += n;
}

/* write_all - write(2) that survives short writes and signals */
static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* emit - send one finished message to every destination */
static void emit(pn_log_level level, const char *body, size_t len)
{
	/* Room for "ident[pid]: ", the message and the newline. */
	char line[IDENT_MAX + 32 + PN_LOG_LINE_MAX + 2];
	int head;
	size_t n;

	pthread_mutex_lock(&log_lock);
	if (log_to_syslog)
		syslog(level_priority[level], "%s", body);
	if (log_stream != NULL || log_to_stderr) {
		head = snprintf(line, sizeof(line), "%s[%ld]: ", log_ident,
				(long)getpid());
		n = head > 0 ? (size_t)head : 0;
		memcpy(line + n, body, len);
		n += len;
		line[n++] = '\n';
		if (log_stream != NULL) {
			fwrite(line, 1, n, log_stream);
			fflush(log_stream);
		} else {
			write_all(STDERR_FILENO, line, n);
		}
	}
	pthread_mutex_unlock(&log_lock);
}

/* vlog - format, cut, neutralise and emit one message */
__attribute__((format(printf, 4, 0)))
static void vlog(pn_log_level level, int with_queue, const char *queue_id,
		 const char *fmt, va_list ap)
{
	char body[PN_LOG_LINE_MAX + 1];
	size_t len = 0, start, i, room;
	int cut = 0, n, saved_errno = errno;

	if ((unsigned)level > PN_LOG_PANIC)
		level = PN_LOG_ERROR;
	add(body, &len, &cut, level_prefix[level]);
	start = len;
	if (with_queue) {
		add(body, &len, &cut, queue_id && *queue_id ? queue_id : "NOQUEUE");
		add(body, &len, &cut, ": ");
	}
	if (!cut) {
		room = sizeof(body) - len;
		errno = saved_errno;	/* for %m */
		n = vsnprintf(body + len, room, fmt, ap);
		if (n < 0)
			n = 0;
		if ((size_t)n >= room) {
			cut = 1;
			len = PN_LOG_LINE_MAX;
		} else {
			len += (size_t)n;
		}
	}
	if (cut) {
		len = PN_LOG_LINE_MAX - 3;
		/* Back up to the start of a UTF-8 sequence; at most 3 bytes. */
		for (i = 0; i < 3 && len > start &&
		     ((unsigned char)body[len] & 0xC0) == 0x80; i++)
			len--;
		memcpy(body + len, "...", 3);
		len += 3;
	}
	/* NUL included: "%c" can produce one, and it would hide the rest. */
	for (i = start; i < len; i++) {
		unsigned char c = (unsigned char)body[i];
		if (c < 0x20 || c == 0x7f)
			body[i] = '?';
	}
	body[len] = '\0';
	emit(level, body, len);
	errno = saved_errno;
}

/* pn_log - log a message at a level */
void pn_log(pn_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!pn_log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, 0, NULL, fmt, ap);
	va_end(ap);
}

/* pn_log_msg - log a message about one mail, tagged with its queue id */
void pn_log_msg(pn_log_level level, const char *queue_id, const char *fmt, ...)
{
	va_list ap;

	if (!pn_log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, 1, queue_id, fmt, ap);
	va_end(ap);
}

/* pn_fatal - log why the program cannot go on, and exit */
void pn_fatal(int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PN_LOG_FATAL, 0, NULL, fmt, ap);
	va_end(ap);
	/* A fatal error inside an atexit handler must not run them again. */
	if (atomic_exchange(&log_dying, 1))
		_exit(exit_code);
	exit(exit_code);
}

/* pn_panic - log a "cannot happen" condition and abort for a core dump */
void pn_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PN_LOG_PANIC, 0, NULL, fmt, ap);
	va_end(ap);
	abort();
}
