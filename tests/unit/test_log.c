/* SPDX-License-Identifier: BSD-2-Clause */
/* test_log - prefixes, filtering, neutralising, truncation and threads */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

/* capture_start - send log lines to a fresh temporary file */
static FILE *capture_start(pn_log_level min)
{
	FILE *fp = tmpfile();
	assert_non_null(fp);
	pn_log_set_stream(fp);
	pn_log_set_level(min);
	return fp;
}

/* capture_end - stop capturing and return everything written */
static char *capture_end(FILE *fp)
{
	pn_buf b;
	char chunk[4096];
	size_t n;

	pn_log_set_stream(NULL);
	pn_log_set_level(PN_LOG_INFO);
	rewind(fp);
	pn_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		pn_buf_append(&b, chunk, n);
	fclose(fp);
	return pn_buf_steal(&b, NULL);
}

/* expect_line - text must be the one line "postern[PID]: want" */
static void expect_line(const char *what, const char *got, const char *want)
{
	char *full;

	if (want == NULL) {
		if (*got != '\0')
			fail_msg("%s: got \"%s\", want nothing", what, got);
		return;
	}
	full = pn_asprintf("postern[%ld]: %s\n", (long)getpid(), want);
	if (strcmp(got, full) != 0)
		fail_msg("%s:\n got  \"%s\"\n want \"%s\"", what, got, full);
	pn_free(full);
}

/* prefixes_and_filter - level prefixes, queue ids and the level filter */
static void prefixes_and_filter(void **state)
{
	static const struct {
		const char *what;
		pn_log_level min, level;
		int with_queue;
		const char *queue_id, *text, *want;
	} cases[] = {
		{ "info has no prefix", PN_LOG_INFO, PN_LOG_INFO, 0, NULL, "hello", "hello" },
		{ "warning", PN_LOG_INFO, PN_LOG_WARN, 0, NULL, "hello", "warning: hello" },
		{ "error", PN_LOG_INFO, PN_LOG_ERROR, 0, NULL, "hello", "error: hello" },
		{ "fatal level only logs", PN_LOG_INFO, PN_LOG_FATAL, 0, NULL, "hello", "fatal: hello" },
		{ "panic level only logs", PN_LOG_INFO, PN_LOG_PANIC, 0, NULL, "hello", "panic: hello" },
		{ "debug shown at debug", PN_LOG_DEBUG, PN_LOG_DEBUG, 0, NULL, "hello", "debug: hello" },
		{ "debug dropped at info", PN_LOG_INFO, PN_LOG_DEBUG, 0, NULL, "hello", NULL },
		{ "info dropped at warning", PN_LOG_WARN, PN_LOG_INFO, 0, NULL, "hello", NULL },
		{ "warning kept at warning", PN_LOG_WARN, PN_LOG_WARN, 0, NULL, "hello", "warning: hello" },
		{ "warning dropped at error", PN_LOG_ERROR, PN_LOG_WARN, 1, "Q1", "hello", NULL },
		{ "error kept at error", PN_LOG_ERROR, PN_LOG_ERROR, 0, NULL, "hello", "error: hello" },
		{ "queue id", PN_LOG_INFO, PN_LOG_INFO, 1, "4BCD12", "from=<a@b>", "4BCD12: from=<a@b>" },
		{ "queue id after level", PN_LOG_INFO, PN_LOG_WARN, 1, "4BCD12", "x", "warning: 4BCD12: x" },
		{ "NULL queue id", PN_LOG_INFO, PN_LOG_INFO, 1, NULL, "x", "NOQUEUE: x" },
		{ "empty queue id", PN_LOG_INFO, PN_LOG_ERROR, 1, "", "x", "error: NOQUEUE: x" },
		{ "CR LF neutralised", PN_LOG_INFO, PN_LOG_INFO, 0, NULL, "a\r\nb", "a??b" },
		{ "forged line stays one line", PN_LOG_INFO, PN_LOG_WARN, 1, "Q1",
		  "subject x\npostern[1]: fake", "warning: Q1: subject x?postern[1]: fake" },
		{ "tab ESC DEL", PN_LOG_INFO, PN_LOG_INFO, 0, NULL, "a\tb\033[0mc\177d", "a?b?[0mc?d" },
		{ "queue id neutralised", PN_LOG_INFO, PN_LOG_INFO, 1, "Q\n1", "x", "Q?1: x" },
		{ "UTF-8 kept", PN_LOG_INFO, PN_LOG_INFO, 0, NULL, "caf\xc3\xa9", "caf\xc3\xa9" },
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *fp = capture_start(cases[i].min);
		char *got;
		if (cases[i].with_queue)
			pn_log_msg(cases[i].level, cases[i].queue_id, "%s", cases[i].text);
		else
			pn_log(cases[i].level, "%s", cases[i].text);
		got = capture_end(fp);
		expect_line(cases[i].what, got, cases[i].want);
		pn_free(got);
	}
}

/* macros_errno_and_nul - convenience macros, %m, errno kept, NUL from %c */
static void macros_errno_and_nul(void **state)
{
	FILE *fp;
	char *got;
	(void)state;

	fp = capture_start(PN_LOG_DEBUG);
	pn_debug("d %d", 1);
	pn_info("i");
	pn_warn("w");
	pn_error("e %s", "x");
	got = capture_end(fp);
	{
		char *want = pn_asprintf("postern[%ld]: debug: d 1\npostern[%ld]: i\n"
					 "postern[%ld]: warning: w\npostern[%ld]: error: e x\n",
					 (long)getpid(), (long)getpid(), (long)getpid(), (long)getpid());
		if (strcmp(got, want) != 0)
			fail_msg("macros: got \"%s\", want \"%s\"", got, want);
		pn_free(want);
	}
	pn_free(got);

	fp = capture_start(PN_LOG_INFO);
	errno = ENOENT;
	pn_warn("open x: %m");
	assert_int_equal(errno, ENOENT);
	got = capture_end(fp);
	expect_line("%m", got, "warning: open x: No such file or directory");
	pn_free(got);

	fp = capture_start(PN_LOG_INFO);
	pn_info("a%cb", 0);
	got = capture_end(fp);
	expect_line("NUL from %c", got, "a?b");
	pn_free(got);
}

/* long_lines_cut - long messages end in "..." without splitting UTF-8 */
static void long_lines_cut(void **state)
{
	struct {
		const char *what;
		size_t ascii;		/* leading 'a' bytes */
		const char *tail;	/* repeated after them */
		size_t want_len;	/* message text length */
		int cut;
	} cases[] = {
		{ "exactly at the limit", PN_LOG_LINE_MAX, "", PN_LOG_LINE_MAX, 0 },
		{ "one byte over", PN_LOG_LINE_MAX + 1, "", PN_LOG_LINE_MAX, 1 },
		{ "far over", 3 * PN_LOG_LINE_MAX, "", PN_LOG_LINE_MAX, 1 },
		{ "cut inside a UTF-8 character", PN_LOG_LINE_MAX - 4, "\xc3\xa9", PN_LOG_LINE_MAX - 1, 1 },
		{ "cut after a UTF-8 character", PN_LOG_LINE_MAX - 5, "\xc3\xa9", PN_LOG_LINE_MAX, 1 },
	};
	size_t i, j;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_buf text;
		FILE *fp;
		char *got, *body, *head;
		size_t len;

		pn_buf_init(&text, 0);
		for (j = 0; j < cases[i].ascii; j++)
			pn_buf_putc(&text, 'a');
		for (j = 0; *cases[i].tail && j < 100; j++)
			pn_buf_puts(&text, cases[i].tail);
		fp = capture_start(PN_LOG_INFO);
		pn_info("%s", pn_buf_str(&text));
		got = capture_end(fp);
		head = pn_asprintf("postern[%ld]: ", (long)getpid());
		if (strncmp(got, head, strlen(head)) != 0)
			fail_msg("%s: got \"%.40s\", want it to start with \"%s\"", cases[i].what, got, head);
		body = got + strlen(head);
		len = strlen(body);
		if (len == 0 || body[len - 1] != '\n' || strchr(body, '\n') != body + len - 1)
			fail_msg("%s: want exactly one line", cases[i].what);
		len--;
		if (len != cases[i].want_len)
			fail_msg("%s: got %zu bytes, want %zu", cases[i].what, len, cases[i].want_len);
		if (cases[i].cut != (strncmp(body + len - 3, "...", 3) == 0))
			fail_msg("%s: got ending \"%.3s\", want cut=%d", cases[i].what, body + len - 3, cases[i].cut);
		if (cases[i].cut && ((unsigned char)body[len - 4] == 0xc3))
			fail_msg("%s: got a lone UTF-8 lead byte before \"...\"", cases[i].what);
		pn_free(head);
		pn_free(got);
		pn_buf_free(&text);
	}
}

/* level_names - pn_log_level_parse and pn_log_enabled */
static void level_names(void **state)
{
	static const struct {
		const char *name;
		int rc;
		pn_log_level want;
	} cases[] = {
		{ "debug", 0, PN_LOG_DEBUG },
		{ "INFO", 0, PN_LOG_INFO },
		{ "Warning", 0, PN_LOG_WARN },
		{ "warn", 0, PN_LOG_WARN },
		{ "error", 0, PN_LOG_ERROR },
		{ "fatal", -1, PN_LOG_PANIC },
		{ "inf", -1, PN_LOG_PANIC },
		{ "", -1, PN_LOG_PANIC },
		{ NULL, -1, PN_LOG_PANIC },
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_log_level got = PN_LOG_PANIC;
		int rc = pn_log_level_parse(cases[i].name, &got);
		if (rc != cases[i].rc || got != cases[i].want)
			fail_msg("\"%s\": got rc %d level %d, want rc %d level %d",
				 cases[i].name ? cases[i].name : "(null)", rc, (int)got,
				 cases[i].rc, (int)cases[i].want);
	}
	pn_log_set_level(PN_LOG_WARN);
	assert_false(pn_log_enabled(PN_LOG_INFO));
	assert_true(pn_log_enabled(PN_LOG_WARN));
	assert_true(pn_log_enabled(PN_LOG_PANIC));
	pn_log_set_level(PN_LOG_INFO);
}

enum { THREADS = 4, LINES = 200 };

/* writer - one thread's share of the concurrency test */
static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg, n;
	char pad[600];

	/* Lines long enough that a torn write would show. */
	memset(pad, 'a' + t, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (n = 0; n < LINES; n++)
		pn_log_msg(PN_LOG_INFO, "Q", "t%d n%d %s end", t, n, pad);
	return NULL;
}

/* threads_never_interleave - every line arrives whole, exactly once */
static void threads_never_interleave(void **state)
{
	pthread_t tid[THREADS];
	char seen[THREADS][LINES], *got, *line, *next, *head, pad[600];
	int i, t, n, count = 0;
	(void)state;

	memset(seen, 0, sizeof(seen));
	FILE *fp = capture_start(PN_LOG_INFO);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	got = capture_end(fp);
	head = pn_asprintf("postern[%ld]: Q: t", (long)getpid());
	for (line = got; *line; line = next + 1) {
		char *want;
		next = strchr(line, '\n');
		assert_non_null(next);
		*next = '\0';
		if (strncmp(line, head, strlen(head)) != 0 ||
		    sscanf(line + strlen(head), "%d n%d", &t, &n) != 2 ||
		    t < 0 || t >= THREADS || n < 0 || n >= LINES)
			fail_msg("got torn line \"%.80s\"", line);
		memset(pad, 'a' + t, sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = '\0';
		want = pn_asprintf("%s%d n%d %s end", head, t, n, pad);
		if (strcmp(line, want) != 0)
			fail_msg("got damaged line \"%.80s...\"", line);
		pn_free(want);
		if (seen[t][n]++)
			fail_msg("got t%d n%d twice, want once", t, n);
		count++;
	}
	if (count != THREADS * LINES)
		fail_msg("got %d lines, want %d", count, THREADS * LINES);
	pn_free(head);
	pn_free(got);
}

static void do_fatal(void)
{
	pn_fatal(3, "cannot %s", "go on");
}

static void do_panic(void)
{
	pn_panic("impossible %d", 42);
}

static void do_open(void)
{
	pn_log_open("postern-test", 1, PN_LOG_WARN);
	pn_info("dropped");
	pn_warn("kept");
}

/* run_child - run fn with stderr on a pipe; return its output and status */
static char *run_child(void (*fn)(void), int *status, pid_t *pid)
{
	int fds[2];
	pn_buf b;
	char chunk[512];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		pn_log_set_stream(NULL);
		fn();
		_exit(0);
	}
	close(fds[1]);
	pn_buf_init(&b, 0);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		pn_buf_append(&b, chunk, (size_t)n);
	close(fds[0]);
	assert_int_equal(waitpid(*pid, status, 0), *pid);
	return pn_buf_steal(&b, NULL);
}

/* fatal_panic_open - exit codes, abort, and the ident from pn_log_open */
static void fatal_panic_open(void **state)
{
	struct {
		const char *what;
		void (*fn)(void);
		int want_exit;		/* -1: want SIGABRT */
		const char *want;	/* after "[PID]: " */
		const char *ident;
	} cases[] = {
		{ "fatal exits", do_fatal, 3, "fatal: cannot go on\n", "postern" },
		{ "panic aborts", do_panic, -1, "panic: impossible 42\n", "postern" },
		{ "open sets ident and level", do_open, 0, "warning: kept\n", "postern-test" },
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int status;
		pid_t pid;
		char *got = run_child(cases[i].fn, &status, &pid);
		char *want = pn_asprintf("%s[%ld]: %s", cases[i].ident, (long)pid, cases[i].want);
		if (strcmp(got, want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].what, got, want);
		if (cases[i].want_exit < 0) {
			if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
				fail_msg("%s: got status %#x, want SIGABRT", cases[i].what, status);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != cases[i].want_exit) {
			fail_msg("%s: got status %#x, want exit %d", cases[i].what, status,
				 cases[i].want_exit);
		}
		pn_free(want);
		pn_free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prefixes_and_filter),
		cmocka_unit_test(macros_errno_and_nul),
		cmocka_unit_test(long_lines_cut),
		cmocka_unit_test(level_names),
		/* Before the threads: forked children then inherit no thread stacks. */
		cmocka_unit_test(fatal_panic_open),
		cmocka_unit_test(threads_never_interleave),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
