/* SPDX-License-Identifier: BSD-2-Clause */
/* test_spool - bodies in memory, moved to disk past the limit, read back intact */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/spool.h"
#include "tests/unit/testlib.h"

/* read_back - the whole spool through the reading interface */
static char *read_back(pn_spool *s, size_t *len)
{
	pn_buf b;
	char chunk[7];	/* small on purpose: many reads */
	long n;

	pn_buf_init(&b, 0);
	assert_int_equal(pn_spool_rewind(s), 0);
	while ((n = pn_spool_read(s, chunk, sizeof(chunk))) > 0)
		pn_buf_append(&b, chunk, (size_t)n);
	assert_true(n == 0);
	return pn_buf_steal(&b, len);
}

static void stays_in_memory_then_moves_to_disk(void **state)
{
	static const struct {
		size_t limit, chunks, chunk_size;
		int want_disk;
	} cases[] = {
		{1024, 4, 100, 0},
		{1024, 4, 256, 0},
		{1024, 5, 256, 1},
		{0, 1, 10, 1},
		{1 << 20, 100, 65535, 1},
	};
	size_t i, j, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_spool *s = pn_spool_new(cases[i].limit, "/tmp");
		pn_buf want;
		char *chunk = pn_malloc(cases[i].chunk_size), *got;

		pn_buf_init(&want, 0);
		for (j = 0; j < cases[i].chunks; j++) {
			memset(chunk, 'a' + (int)(j % 26), cases[i].chunk_size);
			assert_int_equal(pn_spool_write(s, chunk, cases[i].chunk_size), 0);
			pn_buf_append(&want, chunk, cases[i].chunk_size);
		}
		if (pn_spool_on_disk(s) != cases[i].want_disk)
			fail_msg("case %zu: on_disk got %d, want %d", i, pn_spool_on_disk(s),
				 cases[i].want_disk);
		assert_int_equal(pn_spool_size(s), pn_buf_len(&want));
		assert_true((pn_spool_mem(s) == NULL) == cases[i].want_disk);
		got = read_back(s, &len);
		assert_int_equal(len, pn_buf_len(&want));
		assert_memory_equal(got, pn_buf_str(&want), len);
		/* reading twice gives the same bytes */
		pn_free(got);
		got = read_back(s, &len);
		assert_int_equal(len, pn_buf_len(&want));
		pn_free(got);
		pn_free(chunk);
		pn_buf_free(&want);
		pn_spool_reset(s);
		assert_int_equal(pn_spool_size(s), 0);
		assert_int_equal(pn_spool_on_disk(s), 0);
		pn_spool_free(s);
	}
}

static void configured_spool_is_encrypted_in_its_own_directory(void **state)
{
	static const char line[] = "SECRET-MARKER of a confidential body line\r\n";
	const char *tmpl = t_tmpdir("postern-test-spool");
	char link[64], where[512], *raw, *got;
	pn_spool *s;
	pn_buf want;
	size_t i, len;
	ssize_t n;

	(void)state;
	pn_spool_configure(tmpl, 1);
	s = pn_spool_new(1024, "/tmp");
	assert_int_equal(pn_spool_encrypted(s), 1);
	pn_buf_init(&want, 0);
	for (i = 0; i < 3000; i++) {
		assert_int_equal(pn_spool_write(s, line, sizeof(line) - 1), 0);
		pn_buf_append(&want, line, sizeof(line) - 1);
	}
	assert_int_equal(pn_spool_on_disk(s), 1);
	/* the file is in the configured directory, not in the tmp_dir given */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", pn_spool_fd(s));
	n = readlink(link, where, sizeof(where) - 1);
	assert_true(n > 0);
	where[n] = '\0';
	if (strncmp(where, tmpl, strlen(tmpl)) != 0)
		fail_msg("spool file %s is not in %s", where, tmpl);
	/* and holds no plaintext */
	raw = pn_malloc(pn_spool_size(s));
	assert_int_equal(pread(pn_spool_fd(s), raw, pn_spool_size(s), 0), (ssize_t)pn_spool_size(s));
	if (memmem(raw, pn_spool_size(s), "SECRET-MARKER", 13) != NULL)
		fail_msg("the spool file holds the body in plaintext");
	pn_free(raw);
	/* read back intact, twice, and appends after a read land at the end */
	got = read_back(s, &len);
	assert_int_equal(len, pn_buf_len(&want));
	assert_memory_equal(got, pn_buf_str(&want), len);
	pn_free(got);
	assert_int_equal(pn_spool_write(s, "tail\r\n", 6), 0);
	pn_buf_append(&want, "tail\r\n", 6);
	got = read_back(s, &len);
	assert_int_equal(len, pn_buf_len(&want));
	assert_memory_equal(got, pn_buf_str(&want), len);
	pn_free(got);
	pn_buf_free(&want);
	pn_spool_free(s);
	/* back to the defaults: tmp_dir, no encryption */
	pn_spool_configure(NULL, 0);
	s = pn_spool_new(0, "/tmp");
	assert_int_equal(pn_spool_encrypted(s), 0);
	assert_int_equal(pn_spool_write(s, "0123456789", 10), 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", pn_spool_fd(s));
	n = readlink(link, where, sizeof(where) - 1);
	assert_true(n > 0);
	where[n] = '\0';
	assert_int_equal(strncmp(where, "/tmp/", 5), 0);
	pn_spool_free(s);
}

static void leaves_no_file_behind(void **state)
{
	const char *dir = t_tmpdir("pn-spool");
	pn_spool *s;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	s = pn_spool_new(4, dir);
	assert_int_equal(pn_spool_write(s, "0123456789", 10), 0);
	assert_true(pn_spool_on_disk(s));
	d = opendir(dir);
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 0);
	pn_spool_free(s);
}

static void unwritable_dir_is_an_error_not_a_crash(void **state)
{
	pn_spool *s = pn_spool_new(4, "/nonexistent/postern");

	(void)state;
	assert_int_equal(pn_spool_write(s, "abc", 3), 0);
	assert_int_equal(pn_spool_write(s, "defgh", 5), -1);
	pn_spool_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stays_in_memory_then_moves_to_disk),
		cmocka_unit_test(configured_spool_is_encrypted_in_its_own_directory),
		cmocka_unit_test(leaves_no_file_behind),
		cmocka_unit_test(unwritable_dir_is_an_error_not_a_crash),
	};
	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
