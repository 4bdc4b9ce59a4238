/* SPDX-License-Identifier: BSD-2-Clause */
/* test_netstring - the bounded netstring reader and writer, hostile input first */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/netstring.h"

/* parse - pn_netstring_parse on a C string with max */
static int parse(const char *in, size_t max, const char **p, size_t *plen, size_t *used,
		 const char **why)
{
	return pn_netstring_parse(in, strlen(in), max, p, plen, used, why);
}

static void test_whole_and_partial(void **unused)
{
	const char *p, *why, *in = "12:postfix a.bc,3:xyz,";
	size_t plen, used, i;

	(void)unused;
	assert_int_equal(parse(in, 100, &p, &plen, &used, &why), 1);
	assert_int_equal(plen, 12);
	assert_memory_equal(p, "postfix a.bc", 12);
	assert_int_equal(used, 16);
	/* the second one, after the caller drops the first */
	assert_int_equal(parse(in + used, 100, &p, &plen, &used, &why), 1);
	assert_int_equal(plen, 3);
	assert_memory_equal(p, "xyz", 3);
	/* every proper prefix of a valid netstring needs more bytes, never errs */
	for (i = 0; i < 16; i++) {
		assert_int_equal(pn_netstring_parse(in, i, 100, &p, &plen, &used, &why), 0);
		assert_null(why);
	}
	assert_int_equal(parse("0:,", 100, &p, &plen, &used, &why), 1);
	assert_int_equal(plen, 0);
	/* payload with a NUL byte */
	assert_int_equal(pn_netstring_parse("3:a\0b,", 6, 10, &p, &plen, &used, &why), 1);
	assert_int_equal(plen, 3);
	assert_int_equal(p[1], '\0');
}

static void test_hostile(void **unused)
{
	static const char *const bad[] = {
		":abc,", "x:abc,", "-1:a,", " 3:abc,", "3 :abc,", "03:abc,", "00:,",
		"3:abcd", "3:abc;", "4096:", "99999999999999999999999999:", "101:",
		"1e3:", NULL
	};
	const char *p, *why;
	size_t plen, used, i;

	(void)unused;
	for (i = 0; bad[i]; i++) {
		why = NULL;
		assert_int_equal(parse(bad[i], 100, &p, &plen, &used, &why), -1);
		assert_non_null(why);
	}
	/* a huge announced length is refused from its digits alone, before
	 * any payload arrives: the caller never buffers it */
	assert_int_equal(parse("1000", 100, &p, &plen, &used, &why), -1);
	assert_string_equal(why, "netstring longer than allowed");
	assert_int_equal(parse("100", 100, &p, &plen, &used, &why), 0);
	/* the exact maximum passes */
	{
		char big[120];
		memset(big, 'a', sizeof(big));
		memcpy(big, "100:", 4);
		big[104] = ',';
		assert_int_equal(pn_netstring_parse(big, 105, 100, &p, &plen, &used, &why), 1);
		assert_int_equal(plen, 100);
		assert_int_equal(used, 105);
	}
	/* max 0: only the empty netstring */
	assert_int_equal(parse("0:,", 0, &p, &plen, &used, &why), 1);
	assert_int_equal(parse("1:a,", 0, &p, &plen, &used, &why), -1);
}

static void test_put(void **unused)
{
	pn_buf b;
	const char *p, *why;
	size_t plen, used;

	(void)unused;
	pn_buf_init(&b, 0);
	assert_int_equal(pn_netstring_put(&b, "OK encrypt", 10), 0);
	assert_int_equal(pn_netstring_put(&b, "", 0), 0);
	assert_string_equal(pn_buf_str(&b), "10:OK encrypt,0:,");
	/* what we write, we read back */
	assert_int_equal(pn_netstring_parse(pn_buf_str(&b), pn_buf_len(&b), 100, &p, &plen, &used,
					    &why), 1);
	assert_int_equal(plen, 10);
	pn_buf_free(&b);
	/* a limit that the frame would pass leaves the buffer as it was */
	pn_buf_init(&b, 8);
	assert_int_equal(pn_netstring_put(&b, "abc", 3), 0);
	assert_int_equal(pn_netstring_put(&b, "abc", 3), -1);
	assert_string_equal(pn_buf_str(&b), "3:abc,");
	pn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_partial),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
