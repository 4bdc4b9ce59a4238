/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sort_submit - postern-sort's outbound spool: sendmail runs, retries, drops, the bound */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/sort/sort_submit.h"
#include "tests/unit/testlib.h"

/* fake_sendmail - a script that records its arguments and input, then
 * exits with status; it appends one line to DIR/calls per run */
static char *fake_sendmail(const char *dir, int status)
{
	char *path = pn_asprintf("%s/sendmail", dir);
	char *text = pn_asprintf("#!/bin/sh\necho \"$*\" > %s/args\ncat > %s/msg.tmp\n"
				 "mv %s/msg.tmp %s/msg\necho run >> %s/calls\nexit %d\n",
				 dir, dir, dir, dir, dir, status);

	assert_int_equal(t_write_file(path, text, strlen(text)), 0);
	assert_int_equal(chmod(path, 0755), 0);
	pn_free(text);
	return path;
}

/* files - regular entries of dir */
static unsigned files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* wait_calls - until the fake sendmail ran n times (bounded) */
static void wait_calls(const char *dir, size_t n)
{
	char *path = pn_asprintf("%s/calls", dir);
	int i;

	for (i = 0; i < 3000; i++) {
		size_t len = 0;
		char *s = t_read_file(path, &len);
		size_t runs = s ? t_count(s, "run") : 0;
		pn_free(s);
		if (runs >= n)
			break;
		usleep(10000);
	}
	pn_free(path);
}

static void sendmail_gets_the_null_sender_the_recipients_and_the_message(void **state)
{
	const char *dir = t_tmpdir("postern-submit");
	char *spool = pn_asprintf("%s/spool", dir), *err = NULL, *method, *path, *args, *msg;
	char *path2;
	sort_submit *sb;
	size_t len;
	int i;

	(void)state;
	path = fake_sendmail(dir, 0);
	method = pn_asprintf("sendmail:%s", path);
	sb = sort_submit_new(spool, method, 10, &err);
	assert_non_null(sb);
	assert_int_equal(sort_submit_queue(sb, "", "a@example.net, b@example.net",
					   "Subject: x\n\n.hello\n", 20), 0);
	wait_calls(dir, 1);
	for (i = 0; i < 3000 && files(spool) > 0; i++)
		usleep(10000);	/* the file goes after sendmail returned */
	sort_submit_free(sb);
	path2 = pn_asprintf("%s/args", dir);
	args = t_read_file(path2, &len);
	pn_free(path2);
	path2 = pn_asprintf("%s/msg", dir);
	msg = t_read_file(path2, &len);
	pn_free(path2);
	assert_true(t_str_eq(args, "-i -f <> -- a@example.net b@example.net\n"));
	assert_true(t_str_eq(msg, "Subject: x\n\n.hello\n"));
	assert_int_equal(files(spool), 0);
	pn_free(args);
	pn_free(msg);
	pn_free(method);
	pn_free(path);
	pn_free(spool);
}

/* A socket or file of the daemon open in sendmail would outlive a reload
 * and let a compromised sendmail talk on the milter's connections. */
static void sendmail_inherits_no_descriptor_of_the_daemon(void **state)
{
	const char *dir = t_tmpdir("postern-submit");
	char *spool = pn_asprintf("%s/spool", dir), *err = NULL, *method, *path, *text, *got;
	int held = open("/dev/null", O_RDONLY), sock = socket(AF_UNIX, SOCK_STREAM, 0);
	sort_submit *sb;
	size_t len;

	(void)state;
	assert_true(held > 2 && sock > 2);
	path = pn_asprintf("%s/sendmail", dir);
	text = pn_asprintf("#!/bin/sh\ncat > /dev/null\nfor fd in %d %d; do\n"
			   "  if [ -e /proc/$$/fd/$fd ]; then echo \"open $fd\"; fi\ndone"
			   " > %s/fds.tmp\nmv %s/fds.tmp %s/fds\necho run >> %s/calls\n",
			   held, sock, dir, dir, dir, dir);
	assert_int_equal(t_write_file(path, text, strlen(text)), 0);
	assert_int_equal(chmod(path, 0755), 0);
	method = pn_asprintf("sendmail:%s", path);
	sb = sort_submit_new(spool, method, 10, &err);
	assert_non_null(sb);
	assert_int_equal(sort_submit_queue(sb, "", "a@example.net", "Subject: x\n\nhi\n", 15), 0);
	wait_calls(dir, 1);
	sort_submit_free(sb);
	pn_free(text);
	text = pn_asprintf("%s/fds", dir);
	got = t_read_file(text, &len);
	assert_non_null(got);
	assert_true(t_str_eq(got, ""));
	/* the daemon's own descriptors stay as they were */
	assert_true(fcntl(held, F_GETFD) >= 0 && fcntl(sock, F_GETFD) >= 0);
	close(held);
	close(sock);
	pn_free(got);
	pn_free(text);
	pn_free(method);
	pn_free(path);
	pn_free(spool);
}

static void a_temporary_failure_keeps_the_file_a_permanent_one_drops_it(void **state)
{
	const char *dir = t_tmpdir("postern-submit");
	char *spool = pn_asprintf("%s/spool", dir), *err = NULL, *method, *path;
	sort_submit *sb;
	int i;

	(void)state;
	path = fake_sendmail(dir, 75);
	method = pn_asprintf("sendmail:%s", path);
	sb = sort_submit_new(spool, method, 10, &err);
	assert_non_null(sb);
	assert_int_equal(sort_submit_queue(sb, "", "a@example.net", "x\n", 2), 0);
	wait_calls(dir, 1);
	sort_submit_free(sb);	/* joins the thread: the pass is over */
	assert_int_equal(files(spool), 1);	/* kept for a retry */

	/* the next start sends what the last one left; a permanent failure
	 * drops it */
	pn_free(path);
	path = fake_sendmail(dir, 1);
	sb = sort_submit_new(spool, method, 10, &err);
	assert_non_null(sb);
	wait_calls(dir, 2);
	for (i = 0; i < 3000 && files(spool) > 0; i++)
		usleep(10000);
	sort_submit_free(sb);
	assert_int_equal(files(spool), 0);
	pn_free(method);
	pn_free(path);
	pn_free(spool);
}

static void the_queue_is_bounded(void **state)
{
	const char *dir = t_tmpdir("postern-submit");
	char *spool = pn_asprintf("%s/spool", dir), *err = NULL, *method;
	sort_submit *sb;

	(void)state;
	/* a sendmail that does not exist: every attempt is temporary */
	method = pn_asprintf("sendmail:%s/missing", dir);
	sb = sort_submit_new(spool, method, 2, &err);
	assert_non_null(sb);
	assert_int_equal(sort_submit_queue(sb, "", "a@example.net", "1\n", 2), 0);
	assert_int_equal(sort_submit_queue(sb, "", "a@example.net", "2\n", 2), 0);
	assert_int_equal(sort_submit_queue(sb, "", "a@example.net", "3\n", 2), -1);
	sort_submit_free(sb);
	assert_int_equal(files(spool), 2);
	pn_free(method);
	pn_free(spool);
}

static void malformed_methods_are_refused(void **state)
{
	static const char *const bad[] = {"sendmail:relative/path", "smtp:127.0.0.1",
					  "smtp::25", "smtp:host:2x5", "lmtp:/x", "", NULL};
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		assert_int_equal(sort_submit_method_valid(bad[i], &err), -1);
		assert_non_null(err);
		pn_free(err);
		err = NULL;
	}
	assert_int_equal(sort_submit_method_valid("smtp:[::1]:25", &err), 0);
	assert_int_equal(sort_submit_method_valid("sendmail:/usr/sbin/sendmail", &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sendmail_gets_the_null_sender_the_recipients_and_the_message),
		cmocka_unit_test(sendmail_inherits_no_descriptor_of_the_daemon),
		cmocka_unit_test(a_temporary_failure_keeps_the_file_a_permanent_one_drops_it),
		cmocka_unit_test(the_queue_is_bounded),
		cmocka_unit_test(malformed_methods_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
