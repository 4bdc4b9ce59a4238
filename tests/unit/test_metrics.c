/* SPDX-License-Identifier: BSD-2-Clause */
/* test_metrics - the fixed registry: rendering, label sets, histogram
 * buckets, fsync timing, and counters shared with forked workers */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "tests/unit/testlib.h"

static int teardown(void **state)
{
	(void)state;
	pn_metrics_free();
	return 0;
}

/* render - the exposition text, caller frees */
static char *render(int openmetrics)
{
	pn_buf b;

	pn_buf_init(&b, 0);
	pn_metrics_render(&b, openmetrics);
	return pn_buf_steal(&b, NULL);
}

/* has_line - text holds exactly this line */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static void off_until_init(void **state)
{
	(void)state;
	assert_false(pn_metrics_enabled());
	/* tools and unit tests of other modules: no mapping, no effect */
	pn_metric_inc(PN_M_MESSAGES, PN_MV_ACCEPT);
	pn_metric_observe_ns(PN_M_STEP_SECONDS, PN_MS_EOM, 1000);
	assert_int_equal(pn_metric_now(), 0);
	assert_int_equal(pn_metric_value(PN_M_MESSAGES, PN_MV_ACCEPT), 0);
	assert_int_equal(pn_metrics_init(0), 0);
	assert_true(pn_metrics_enabled());
	assert_true(pn_metric_now() != 0);
	assert_int_equal(pn_metric_value(PN_M_MESSAGES, PN_MV_ACCEPT), 0);
}

static void prometheus_text(void **state)
{
	char *t;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	pn_metrics_set_daemon("postern-tls");
	pn_metrics_expose("tls");
	pn_metric_inc(PN_M_MESSAGES, PN_MV_ACCEPT);
	pn_metric_add(PN_M_MESSAGES, PN_MV_REJECT, 41);
	pn_metric_inc(PN_M_MESSAGES, PN_MV_REJECT);
	pn_metric_inc(PN_M_TLS_POLICY, PN_MT_REJECT + 2);	/* ptls hold */
	pn_metric_inc(PN_M_WORKER_RESTARTS, 0);
	t = render(0);
	assert_true(has_line(t, "# TYPE postern_messages_total counter"));
	assert_true(has_line(t, "postern_messages_total{verdict=\"accept\"} 1"));
	assert_true(has_line(t, "postern_messages_total{verdict=\"reject\"} 42"));
	assert_true(has_line(t, "postern_messages_total{verdict=\"quarantine\"} 0"));
	assert_true(has_line(t, "postern_tls_policy_total{outcome=\"hold\"} 1"));
	assert_true(has_line(t, "postern_worker_restarts_total 1"));
	assert_true(has_line(t, "postern_build_info{daemon=\"postern-tls\",version=\""
			      POSTERN_VERSION "\"} 1"));
	/* connections are never quarantined: no such series */
	assert_null(strstr(t, "postern_connections_total{verdict=\"quarantine\"}"));
	/* only this daemon's engines */
	assert_null(strstr(t, "postern_sort_"));
	assert_null(strstr(t, "postern_archive_"));
	assert_null(strstr(t, "postern_audit_"));
	/* postern-tls syncs nothing: no fsync family at all */
	assert_null(strstr(t, "postern_fsync_"));
	assert_null(strstr(t, "# EOF"));
	assert_int_equal(t[strlen(t) - 1], '\n');
	pn_free(t);
}

static void openmetrics_text(void **state)
{
	char *t;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	pn_metrics_expose("archive");
	pn_metric_inc(PN_M_ARCHIVE_STORED, 0);
	t = render(1);
	/* OpenMetrics names the counter family without _total */
	assert_true(has_line(t, "# TYPE postern_messages counter"));
	assert_true(has_line(t, "# TYPE postern_archive_stored counter"));
	assert_true(has_line(t, "postern_archive_stored_total 1"));
	assert_true(has_line(t, "# TYPE postern_fsync_seconds histogram"));
	/* archive's files only */
	assert_non_null(strstr(t, "file=\"archive_object\""));
	assert_non_null(strstr(t, "file=\"archive_journal\""));
	assert_null(strstr(t, "file=\"audit_trail\""));
	assert_null(strstr(t, "postern_tls_"));
	assert_int_equal(strcmp(t + strlen(t) - 6, "# EOF\n"), 0);
	pn_free(t);
}

static void every_engine_and_fixed_labels(void **state)
{
	const char *engines[] = {"tls", "sort", "archive", "audit", "suite", "nonsense"};
	char *t, *p;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		pn_metrics_expose(engines[i]);
	/* out of range label values are ignored, never written elsewhere */
	pn_metric_inc(PN_M_MESSAGES, 99);
	pn_metric_inc(PN_M_WORKER_RESTARTS, 1);
	pn_metric_observe_ns(PN_M_STEP_SECONDS, 99, 5);
	t = render(0);
	assert_non_null(strstr(t, "postern_sort_actions_total{action=\"implicit_keep\"} 0"));
	assert_non_null(strstr(t, "postern_audit_records_total 0"));
	assert_non_null(strstr(t, "file=\"audit_trail\""));
	assert_true(has_line(t, "postern_worker_restarts_total 0"));
	/* every sample is 0: nothing leaked into another slot */
	for (p = t; (p = strchr(p, '\n')) != NULL; p++) {
		const char *line = p + 1, *sp;
		if (*line == '\0' || *line == '#')
			continue;
		sp = strrchr(line, ' ');
		if (strncmp(line, "postern_build_info", 18) == 0)
			continue;
		assert_true(sp != NULL && (sp[1] == '0'));
	}
	pn_free(t);
}

static void histogram_buckets(void **state)
{
	char *t;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	pn_metric_observe_ns(PN_M_STEP_SECONDS, PN_MS_EOM, 0);		/* le 0.0001 */
	pn_metric_observe_ns(PN_M_STEP_SECONDS, PN_MS_EOM, 1000000);	/* exactly 1 ms */
	pn_metric_observe_ns(PN_M_STEP_SECONDS, PN_MS_EOM, 1000001);	/* just above */
	pn_metric_observe_ns(PN_M_STEP_SECONDS, PN_MS_EOM, 11000000000ULL);	/* 11 s */
	t = render(0);
	assert_true(has_line(t, "postern_milter_step_seconds_bucket{step=\"eom\",le=\"0.0001\"} 1"));
	assert_true(has_line(t, "postern_milter_step_seconds_bucket{step=\"eom\",le=\"0.0005\"} 1"));
	assert_true(has_line(t, "postern_milter_step_seconds_bucket{step=\"eom\",le=\"0.001\"} 2"));
	assert_true(has_line(t, "postern_milter_step_seconds_bucket{step=\"eom\",le=\"0.0025\"} 3"));
	assert_true(has_line(t, "postern_milter_step_seconds_bucket{step=\"eom\",le=\"10.0\"} 3"));
	assert_true(has_line(t, "postern_milter_step_seconds_bucket{step=\"eom\",le=\"+Inf\"} 4"));
	assert_true(has_line(t, "postern_milter_step_seconds_count{step=\"eom\"} 4"));
	assert_true(has_line(t, "postern_milter_step_seconds_sum{step=\"eom\"} 11.002000001"));
	assert_true(has_line(t, "postern_milter_step_seconds_count{step=\"helo\"} 0"));
	assert_int_equal(pn_metric_value(PN_M_STEP_SECONDS, PN_MS_EOM), 4);
	pn_free(t);
}

static void fsync_timed_and_failures_counted(void **state)
{
	const char *dir = t_tmpdir("test_metrics");
	char path[512];
	int fd;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(pn_metric_fsync(PN_MF_ARCHIVE_OBJECT, fd), 0);
	assert_int_equal(pn_metric_fdatasync(PN_MF_AUDIT_TRAIL, fd), 0);
	close(fd);
	errno = 0;
	assert_int_equal(pn_metric_fdatasync(PN_MF_ARCHIVE_JOURNAL, fd), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(pn_metric_value(PN_M_FSYNC_SECONDS, PN_MF_ARCHIVE_OBJECT), 1);
	assert_int_equal(pn_metric_value(PN_M_FSYNC_SECONDS, PN_MF_AUDIT_TRAIL), 1);
	assert_int_equal(pn_metric_value(PN_M_FSYNC_FAILURES, PN_MF_ARCHIVE_JOURNAL), 1);
	assert_int_equal(pn_metric_value(PN_M_FSYNC_FAILURES, PN_MF_AUDIT_TRAIL), 0);
}

/* child - what a worker does: count, then die as a crash would */
static pid_t child(int die_by_signal)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < 1000; i++)
			pn_metric_inc(PN_M_MESSAGES, PN_MV_ACCEPT);
		pn_metric_inc(PN_M_AUDIT_RECORDS, 0);
		if (die_by_signal)
			raise(SIGKILL);
		_exit(0);
	}
	return pid;
}

static void shared_counters_survive_workers(void **state)
{
	int status;

	(void)state;
	assert_int_equal(pn_metrics_init(1), 0);	/* the supervisor, before fork */
	pn_metric_inc(PN_M_MESSAGES, PN_MV_ACCEPT);
	for (int i = 0; i < 3; i++) {
		pid_t pid = child(i < 2);
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* the supervisor counts the restart of a killed worker */
		if (WIFSIGNALED(status))
			pn_metric_inc(PN_M_WORKER_RESTARTS, 0);
	}
	assert_int_equal(pn_metric_value(PN_M_MESSAGES, PN_MV_ACCEPT), 3001);
	assert_int_equal(pn_metric_value(PN_M_AUDIT_RECORDS, 0), 3);
	assert_int_equal(pn_metric_value(PN_M_WORKER_RESTARTS, 0), 2);
}

static void private_counters_stay_in_the_process(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	pid = child(0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(pn_metric_value(PN_M_MESSAGES, PN_MV_ACCEPT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(off_until_init, teardown),
		cmocka_unit_test_teardown(prometheus_text, teardown),
		cmocka_unit_test_teardown(openmetrics_text, teardown),
		cmocka_unit_test_teardown(every_engine_and_fixed_labels, teardown),
		cmocka_unit_test_teardown(histogram_buckets, teardown),
		cmocka_unit_test_teardown(fsync_timed_and_failures_counted, teardown),
		cmocka_unit_test_teardown(shared_counters_survive_workers, teardown),
		cmocka_unit_test_teardown(private_counters_stay_in_the_process, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
