/* SPDX-License-Identifier: BSD-2-Clause */
/* test_archive_index_pg - the PostgreSQL index handle without a server: open
 * succeeds (the daemon must start while PostgreSQL is down), every call fails
 * with a message that says why, and the schema steps grant what the roles
 * need. The calls against a real server are in tests/e2e/test_archive_pg.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/archive/index.h"
#include "milters/archive/index_pg.h"
#include "milters/archive/journal.h"

/* a socket directory that does not exist: libpq fails at once */
#define NOWHERE "host=/nonexistent/postern-test port=1 dbname=postern user=postern_archive"

static int count_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	(void)d; (void)row;
	(*(int *)ctx)++;
	return 0;
}

static void open_needs_a_connection_string(void **state)
{
	char *err = NULL;

	(void)state;
	assert_null(arc_index_open_pg("", 2, &err));
	assert_non_null(strstr(err, "index_connection"));
	pn_free(err);
}

static void a_server_that_is_down_is_no_error_at_open(void **state)
{
	char *err = NULL;
	arc_index *x = arc_index_open_pg(NOWHERE, 2, &err);
	arc_query q;
	arc_stats st;
	arc_object obj;
	int n = 0, i;

	(void)state;
	assert_non_null(x);
	assert_null(err);
	assert_int_equal(arc_index_shared(x), 1);
	arc_query_init(&q);
	q.from = pn_strdup("alice");
	/* twice: the second call fails at once, with the same reason */
	for (i = 0; i < 2; i++) {
		assert_int_equal(arc_index_search(x, &q, count_row, &n, &err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
		pn_free(err);
		err = NULL;
	}
	assert_int_equal(n, 0);
	assert_int_equal(arc_index_stats(x, &st), -1);
	assert_int_equal(arc_index_object(x, "00", &obj), -1);
	assert_int_equal(arc_index_uses(x, "00"), -1);
	assert_int_equal(arc_index_reset(x, &err), -1);
	assert_non_null(err);
	pn_free(err);
	arc_query_clear(&q);
	arc_index_close(x);
}

static void catch_up_fails_and_keeps_the_journal(void **state)
{
	char dir[] = "/tmp/postern-index-pg-XXXXXX", *err = NULL, *rm;
	arc_index *x;
	arc_journal *j;
	size_t applied = 99;

	(void)state;
	assert_non_null(mkdtemp(dir));
	j = arc_journal_open_host(dir, "mx1", NULL, 1000, &err);
	assert_non_null(j);
	x = arc_index_open_pg(NOWHERE, 2, &err);
	assert_int_equal(arc_index_catch_up(x, j, NULL, NULL, &applied, &err), -1);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "cannot connect"));
	pn_free(err);
	arc_index_close(x);
	arc_journal_close(j);
	rm = pn_asprintf("rm -rf %s", dir);
	assert_int_equal(system(rm), 0);
	pn_free(rm);
}

static void an_sqlite_index_is_not_shared(void **state)
{
	char dir[] = "/tmp/postern-index-sq-XXXXXX", *path, *err = NULL;
	arc_index *x;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = pn_asprintf("%s/index.db", dir);
	x = arc_index_open(path, 2, 1000, NULL, &err);
	assert_non_null(x);
	assert_int_equal(arc_index_shared(x), 0);
	arc_index_close(x);
	unlink(path);
	pn_free(path);
	rmdir(dir);
}

static void the_schema_grants_each_role_its_rights(void **state)
{
	const char *s = arc_pg_steps[0];

	(void)state;
	assert_int_equal(arc_pg_version, 1);
	assert_non_null(strstr(s, "CREATE EXTENSION IF NOT EXISTS pg_trgm"));
	assert_non_null(strstr(s, "GRANT SELECT, INSERT, UPDATE, DELETE ON archive_objects"));
	assert_non_null(strstr(s, "TO postern_archive"));
	assert_non_null(strstr(s, "TO postern_auditor"));
	/* the auditor gets SELECT only */
	assert_null(strstr(strstr(s, "GRANT SELECT ON archive_objects"), "INSERT"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_needs_a_connection_string),
		cmocka_unit_test(a_server_that_is_down_is_no_error_at_open),
		cmocka_unit_test(catch_up_fails_and_keeps_the_journal),
		cmocka_unit_test(an_sqlite_index_is_not_shared),
		cmocka_unit_test(the_schema_grants_each_role_its_rights),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
