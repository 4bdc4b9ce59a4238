/* SPDX-License-Identifier: BSD-2-Clause */
/* test_buf - pn_buf growth, limits and binary safety */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"

static void appends_and_terminates(void **state)
{
	pn_buf b;
	(void)state;
	pn_buf_init(&b, 0);
	assert_string_equal(pn_buf_str(&b), "");
	assert_int_equal(pn_buf_puts(&b, "hello"), 0);
	assert_int_equal(pn_buf_putc(&b, ' '), 0);
	assert_int_equal(pn_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(pn_buf_str(&b), "hello 42-x");
	assert_int_equal(pn_buf_len(&b), 10);
	pn_buf_free(&b);
}

static void refuses_to_grow_past_max(void **state)
{
	pn_buf b;
	(void)state;
	pn_buf_init(&b, 8);
	assert_int_equal(pn_buf_puts(&b, "12345678"), 0);
	assert_int_equal(pn_buf_putc(&b, '9'), -1);
	assert_int_equal(pn_buf_printf(&b, "%s", "x"), -1);
	assert_string_equal(pn_buf_str(&b), "12345678");
	pn_buf_free(&b);
}

static void keeps_nul_bytes(void **state)
{
	pn_buf b;
	size_t len;
	char *s;
	(void)state;
	pn_buf_init(&b, 0);
	assert_int_equal(pn_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(pn_buf_len(&b), 3);
	s = pn_buf_steal(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);
	assert_int_equal(pn_buf_len(&b), 0);
	pn_free(s);
	pn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(appends_and_terminates),
		cmocka_unit_test(refuses_to_grow_past_max),
		cmocka_unit_test(keeps_nul_bytes),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
