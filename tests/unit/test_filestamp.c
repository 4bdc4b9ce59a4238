/* SPDX-License-Identifier: BSD-2-Clause */
/* test_filestamp - "has this file changed" (common/filestamp) and whole-file reads (common/fileio) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/filestamp.h"
#include "common/fileio.h"
#include "tests/unit/testlib.h"

/* stamp_of_read - the stamp taken from the descriptor the text is read from */
static pn_filestamp stamp_of_read(const char *path, char **text)
{
	pn_filestamp fs;
	struct stat st;
	size_t len;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	pn_filestamp_set(&fs, &st);
	*text = pn_read_fd(fd, 0, &len);
	close(fd);
	assert_non_null(*text);
	return fs;
}

static void notices_rename_rewrite_and_removal(void **state)
{
	const char *dir = t_tmpdir("test_filestamp");
	char *path = pn_asprintf("%s/policy", dir), *next = pn_asprintf("%s/policy.new", dir);
	char *text;
	pn_filestamp then, missing;

	(void)state;
	assert_int_equal(t_write_file(path, "one\n", 4), 0);
	then = stamp_of_read(path, &text);
	assert_string_equal(text, "one\n");
	pn_free(text);
	assert_true(then.ok);
	assert_int_equal(then.size, 4);
	assert_false(pn_file_changed(path, &then));
	/* an editor that writes a new file and renames it: same size, new inode */
	assert_int_equal(t_write_file(next, "two\n", 4), 0);
	assert_int_equal(rename(next, path), 0);
	assert_true(pn_file_changed(path, &then));
	then = pn_filestamp_path(path);
	assert_false(pn_file_changed(path, &then));
	/* rewritten in place with another size */
	assert_int_equal(t_write_file(path, "three\n", 6), 0);
	assert_true(pn_file_changed(path, &then));
	/* removed: a change; and "no file" stays the same "no file" */
	then = pn_filestamp_path(path);
	assert_int_equal(unlink(path), 0);
	assert_true(pn_file_changed(path, &then));
	missing = pn_filestamp_path(path);
	assert_false(missing.ok);
	assert_false(pn_file_changed(path, &missing));
	pn_free(path);
	pn_free(next);
}

static void read_file_limits_and_errors(void **state)
{
	const char *dir = t_tmpdir("test_fileio");
	char *path = pn_asprintf("%s/data", dir), *text;
	size_t len = 99;

	(void)state;
	assert_int_equal(t_write_file(path, "a\0b", 3), 0);
	text = pn_read_file(path, 0, &len);
	assert_non_null(text);
	assert_int_equal(len, 3);
	assert_memory_equal(text, "a\0b", 4);	/* NUL-terminated after the bytes */
	pn_free(text);
	errno = 0;
	assert_null(pn_read_file(path, 2, &len));
	assert_int_equal(errno, EFBIG);
	assert_null(pn_read_file(dir, 0, &len));
	assert_int_equal(errno, EISDIR);
	assert_null(pn_read_file("/nonexistent/postern", 0, &len));
	assert_int_equal(errno, ENOENT);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(notices_rename_rewrite_and_removal),
		cmocka_unit_test(read_file_limits_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
