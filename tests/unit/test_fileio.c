/* SPDX-License-Identifier: BSD-2-Clause */
/* test_fileio - pn_replace_file (common/fileio): all or nothing, no link followed */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fileio.h"
#include "tests/unit/testlib.h"

static void replaces_a_file_whole_and_leaves_no_temporary(void **state)
{
	const char *dir = t_tmpdir("postern-fileio");
	char *path = pn_asprintf("%s/head", dir);
	char *tmp = pn_asprintf("%s.tmp", path), *got;
	const char *step = NULL;
	struct stat st;
	size_t len;

	(void)state;
	assert_int_equal(pn_replace_file(path, "one\n", 4, 0, &step), 0);
	assert_int_equal(pn_replace_file(path, "two lines\n", 10, 1, &step), 0);
	got = t_read_file(path, &len);
	assert_non_null(got);
	assert_string_equal(got, "two lines\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);
	pn_free(got);
	pn_free(tmp);
	pn_free(path);
}

static void a_planted_temporary_link_is_removed_not_followed(void **state)
{
	const char *dir = t_tmpdir("postern-fileio");
	char *path = pn_asprintf("%s/key", dir);
	char *tmp = pn_asprintf("%s.tmp", path), *victim = pn_asprintf("%s/victim", dir);
	const char *step = NULL;
	char *got;
	size_t len;

	(void)state;
	assert_int_equal(t_write_file(victim, "precious\n", 9), 0);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(pn_replace_file(path, "new\n", 4, 1, &step), 0);
	got = t_read_file(victim, &len);
	assert_string_equal(got, "precious\n");
	pn_free(got);
	got = t_read_file(path, &len);
	assert_string_equal(got, "new\n");
	pn_free(got);
	pn_free(victim);
	pn_free(tmp);
	pn_free(path);
}

static void a_directory_that_cannot_hold_it_names_the_step(void **state)
{
	const char *step = NULL;

	(void)state;
	assert_int_equal(pn_replace_file("/nonexistent-dir/x", "a", 1, 0, &step), -1);
	assert_string_equal(step, "create");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replaces_a_file_whole_and_leaves_no_temporary),
		cmocka_unit_test(a_planted_temporary_link_is_removed_not_followed),
		cmocka_unit_test(a_directory_that_cannot_hold_it_names_the_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
