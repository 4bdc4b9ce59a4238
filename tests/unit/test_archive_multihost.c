/* SPDX-License-Identifier: BSD-2-Clause */
/* test_archive_multihost - what several hosts sharing one archive directory need:
 * two writers of one new message at once both succeed and the object stays whole;
 * one host never removes another host's temporary files; maintenance visits
 * every host's journal and nothing else */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "milters/archive/archive.h"
#include "milters/archive/maint.h"
#include "tests/unit/testlib.h"

#define ROUNDS 60

static const char *base;

static int setup_all(void **state)
{
	(void)state;
	base = t_tmpdir("postern-test-multihost");
	return 0;
}

/* settings - one writer's view of the shared archive */
static arc_settings settings(const char *dir, int level)
{
	arc_settings s;

	memset(&s, 0, sizeof(s));
	s.dir = dir;
	s.user = "";
	s.compression_level = level;
	s.certificates = "";
	s.fulltext = 1;
	s.fulltext_max = 65536;
	s.busy_ms = 20000;
	s.retention = "0";
	s.catch_up = 1;
	return s;
}

/* message - round r's message: large enough that compressing it takes a while */
static char *message(int r)
{
	pn_buf b;
	int i;

	pn_buf_init(&b, 0);
	pn_buf_printf(&b, "From: a@example.com\r\nTo: b@example.org\r\nSubject: round %d\r\n"
		      "Message-ID: <round-%d@example.com>\r\n\r\n", r, r);
	for (i = 0; i < 6000; i++)
		pn_buf_printf(&b, "line %d of round %d: %08x %08x\r\n", i, r, (unsigned)(i * 2654435761u),
			      (unsigned)(r * 40503u + (unsigned)i));
	return pn_buf_steal(&b, NULL);
}

/* writer - a process storing every round's message as soon as both may go */
static int writer(const char *dir, int level, int go_fd, int ready_fd)
{
	arc_settings s = settings(dir, level);
	char *err = NULL, c;
	arc_archive *a = arc_archive_open(&s, &err);
	int r;

	if (a == NULL) {
		fprintf(stderr, "open: %s\n", err);
		return 2;
	}
	for (r = 0; r < ROUNDS; r++) {
		char *msg = message(r);
		arc_source src = {msg, strlen(msg), NULL};
		arc_delivery *d = arc_delivery_new();
		arc_result res;

		pn_free(d->sender);
		d->sender = pn_strdup("a@example.com");
		arc_delivery_add_rcpt(d, "b@example.org");
		if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
			return 3;
		if (arc_archive_message(a, d, &src, &res, &err) < 0) {
			fprintf(stderr, "round %d: %s\n", r, err);
			return 4;
		}
		arc_delivery_free(d);
		pn_free(msg);
	}
	arc_archive_close(a);
	return 0;
}

/* two_writers_of_one_new_message_both_succeed_and_the_object_verifies - the attacker's
 * race: two hosts (here two processes, another compression level each, so their
 * stored bytes differ) store the same new message at the same moment, round after
 * round; a later rename over the first file would leave a journal record whose
 * stored bytes are no longer on disk */
static void two_writers_of_one_new_message_both_succeed_and_the_object_verifies(void **state)
{
	char *dir = pn_asprintf("%s/race", base), *lines;
	int go[2][2], ready[2][2], i, r, status;
	pid_t pid[2];
	arc_settings s = settings(dir, 3);
	arc_archive *a;
	arc_verify_report rep;
	char *err = NULL, c;
	FILE *out;
	size_t len = 0;
	int rc;

	(void)state;
	/* created once, before the writers race to create it */
	a = arc_archive_open(&s, &err);
	assert_non_null(a);
	arc_archive_close(a);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pipe(go[i]), 0);
		assert_int_equal(pipe(ready[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			close(go[i][1]);
			close(ready[i][0]);
			_exit(writer(dir, i == 0 ? 1 : 19, go[i][0], ready[i][1]));
		}
		close(go[i][0]);
		close(ready[i][1]);
	}
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < 2; i++)
			assert_int_equal(read(ready[i][0], &c, 1), 1);
		for (i = 0; i < 2; i++)
			assert_int_equal(write(go[i][1], "g", 1), 1);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("writer %d failed (status %d)", i, status);
	}
	a = arc_archive_open(&s, &err);
	assert_non_null(a);
	out = open_memstream(&lines, &len);
	rc = arc_verify(a, out, &rep, &err);
	fclose(out);
	if (rc != 0)
		fail_msg("verify (%d): %s%s", rc, lines, err ? err : "");
	assert_int_equal(rep.objects, ROUNDS);
	assert_int_equal(rep.deliveries, 2 * ROUNDS);
	free(lines);
	arc_archive_close(a);
	pn_free(dir);
}

/* another_hosts_temporary_file_is_left_alone - a writer on another host has a
 * temporary file in the shared directory; its pid means nothing on this host,
 * so this host's clean-up (at every open) must not take it for a dead writer's */
static void another_hosts_temporary_file_is_left_alone(void **state)
{
	char *dir = pn_asprintf("%s/temps", base), *sub, *theirs, *mine, *old;
	arc_store *st;
	char *err = NULL;
	pid_t dead;
	int status;

	(void)state;
	/* a pid that surely runs nowhere on this host: a child that exited */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, &status, 0);
	assert_int_equal(mkdir(dir, 0750), 0);
	st = arc_store_open(dir, 3, NULL, NULL, &err);
	assert_non_null(st);
	arc_store_set_host(st, "mx1");
	sub = pn_asprintf("%s/objects/ab", dir);
	assert_int_equal(mkdir(sub, 0750), 0);
	theirs = pn_asprintf("%s/.tmp-%ld-0badcafe.mx2", sub, (long)dead);
	mine = pn_asprintf("%s/.tmp-%ld-0badcafe.mx1", sub, (long)dead);
	old = pn_asprintf("%s/.tmp-%ld-0badcafe", sub, (long)dead);
	assert_int_equal(t_write_file(theirs, "x", 1), 0);
	assert_int_equal(t_write_file(mine, "x", 1), 0);
	assert_int_equal(t_write_file(old, "x", 1), 0);
	assert_int_equal(arc_store_clean_temps(st, 1), 1);
	assert_int_equal(access(theirs, F_OK), 0);
	assert_int_equal(access(mine, F_OK), -1);
	/* written before names told the host: it could be anyone's, age decides */
	assert_int_equal(access(old, F_OK), 0);
	arc_store_close(st);
	pn_free(sub);
	pn_free(theirs);
	pn_free(mine);
	pn_free(old);
	pn_free(dir);
}

/* note_host - arc_journals_fn: "HOST," for each journal visited */
static int note_host(void *ctx, arc_journal *j, char **err)
{
	(void)err;
	pn_buf_printf(ctx, "%s,", *arc_journal_host(j) ? arc_journal_host(j) : "(single)");
	return 0;
}

/* every_hosts_journal_is_visited_and_nothing_else - reindex, prune and verify on
 * one host read every host's journal, the old single-host one too, and never a
 * link planted where a host's directory would be */
static void every_hosts_journal_is_visited_and_nothing_else(void **state)
{
	char *dir = pn_asprintf("%s/hosts", base), *p, *err = NULL, *seen;
	arc_journal *own, *single;
	pn_buf b;

	(void)state;
	assert_int_equal(mkdir(dir, 0750), 0);
	own = arc_journal_open_host(dir, "mx2", NULL, 1000, &err);
	assert_non_null(own);
	arc_journal_close(arc_journal_open_host(dir, "mx1", NULL, 1000, &err));
	arc_journal_close(arc_journal_open_host(dir, "mx3.example.com", NULL, 1000, &err));
	p = pn_asprintf("%s/journal/evil", dir);
	assert_int_equal(symlink("/etc", p), 0);
	pn_free(p);
	p = pn_asprintf("%s/journal/.hidden", dir);
	assert_int_equal(mkdir(p, 0750), 0);
	pn_free(p);
	pn_buf_init(&b, 0);
	assert_int_equal(arc_journals_each(dir, own, NULL, 1000, note_host, &b, &err), 0);
	seen = pn_buf_steal(&b, NULL);
	assert_string_equal(seen, "mx2,mx1,mx3.example.com,");
	pn_free(seen);
	/* an archive that ran with SQLite before: its journal/ day files count */
	p = pn_asprintf("%s/journal/2026-01-02.jsonl", dir);
	assert_int_equal(t_write_file(p, "", 0), 0);
	pn_free(p);
	pn_buf_init(&b, 0);
	assert_int_equal(arc_journals_each(dir, own, NULL, 1000, note_host, &b, &err), 0);
	seen = pn_buf_steal(&b, NULL);
	assert_string_equal(seen, "mx2,mx1,mx3.example.com,(single),");
	pn_free(seen);
	/* one host alone (SQLite): its journal only */
	single = arc_journal_open(dir, NULL, 1000, &err);
	assert_non_null(single);
	pn_buf_init(&b, 0);
	assert_int_equal(arc_journals_each(dir, single, NULL, 1000, note_host, &b, &err), 0);
	seen = pn_buf_steal(&b, NULL);
	assert_string_equal(seen, "(single),");
	pn_free(seen);
	arc_journal_close(single);
	arc_journal_close(own);
	pn_free(dir);
}

/* Appenders of several processes and threads on one day file: each line
 * is one record, never an empty line (a look at the last byte while
 * another append was half written once added a newline of its own).
 * Each journal handle stands for a process (its own descriptors, locks
 * and checks); threads share one, as the daemon's do. Threads, not
 * fork(): valgrind checks a forked child's inherited heap as leaked. */
#define APPEND_HANDLES 3
#define APPEND_THREADS 4
#define APPEND_EACH 100

static void *append_voids(void *arg)
{
	arc_journal *j = arg;
	char *reason = pn_calloc(1, 16 * 1024 + 1), *err = NULL;
	arc_record r = {0};
	int i, failed = 0;

	memset(reason, 'r', 16 * 1024);
	r.type = ARC_REC_VOID;
	r.id = "20260102030405-0123abcd";
	r.reason = reason;
	r.time = 1767323045;	/* 2026-01-02 */
	for (i = 0; i < APPEND_EACH; i++)
		if (arc_journal_append(j, &r, 1, &err) < 0) {
			pn_free(err);
			err = NULL;
			failed = 1;
		}
	pn_free(reason);
	return failed ? arg : NULL;
}

static void concurrent_appends_never_leave_an_empty_line(void **state)
{
	char *dir = pn_asprintf("%s/appenders", base), *path, *text, *p, *err = NULL;
	size_t len, lines = 0, empty = 0;
	arc_journal *j[APPEND_HANDLES];
	pthread_t t[APPEND_HANDLES][APPEND_THREADS];
	int h, k, failed = 0;

	(void)state;
	assert_int_equal(mkdir(dir, 0750), 0);
	for (h = 0; h < APPEND_HANDLES; h++) {
		j[h] = arc_journal_open_host(dir, "mx1", NULL, 10000, &err);
		assert_non_null(j[h]);
	}
	for (h = 0; h < APPEND_HANDLES; h++)
		for (k = 0; k < APPEND_THREADS; k++)
			assert_int_equal(pthread_create(&t[h][k], NULL, append_voids, j[h]), 0);
	for (h = 0; h < APPEND_HANDLES; h++)
		for (k = 0; k < APPEND_THREADS; k++) {
			void *res;

			pthread_join(t[h][k], &res);
			failed |= res != NULL;
		}
	for (h = 0; h < APPEND_HANDLES; h++)
		arc_journal_close(j[h]);
	assert_int_equal(failed, 0);
	path = pn_asprintf("%s/journal/mx1/2026-01-02.jsonl", dir);
	text = pn_read_file(path, (size_t)1 << 30, &len);
	assert_non_null(text);
	for (p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		assert_non_null(nl);
		if (nl == p)
			empty++;
		else
			lines++;
		p = nl + 1;
	}
	pn_free(text);
	pn_free(path);
	pn_free(dir);
	assert_int_equal(empty, 0);
	assert_int_equal(lines, APPEND_HANDLES * APPEND_THREADS * APPEND_EACH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_writers_of_one_new_message_both_succeed_and_the_object_verifies),
		cmocka_unit_test(another_hosts_temporary_file_is_left_alone),
		cmocka_unit_test(every_hosts_journal_is_visited_and_nothing_else),
		cmocka_unit_test(concurrent_appends_never_leave_an_empty_line),
	};

	return cmocka_run_group_tests(tests, setup_all, NULL);
}
