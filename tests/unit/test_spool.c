/* test_spool - bodies in memory, moved to disk past the limit, read back intact */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/spool.h"

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

static void leaves_no_file_behind(void **state)
{
	char dir[] = "/tmp/pn-spool-XXXXXX";
	pn_spool *s;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	s = pn_spool_new(4, dir);
	assert_int_equal(pn_spool_write(s, "0123456789", 10), 0);
	assert_true(pn_spool_on_disk(s));
	d = opendir(dir);
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 0);
	pn_spool_free(s);
	rmdir(dir);
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
		cmocka_unit_test(leaves_no_file_behind),
		cmocka_unit_test(unwritable_dir_is_an_error_not_a_crash),
	};
	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
