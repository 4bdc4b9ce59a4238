/* SPDX-License-Identifier: BSD-2-Clause */
/* test_msg_headers - header limits and packed header storage of a message */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/milter/msg.h"

static void limits_stop_keeping_fields(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");
	int i;

	(void)state;
	pn_msg_set_header_limits(m, 3, 0);
	for (i = 0; i < 5; i++)
		pn_msg_add_header(m, "X", " y");
	assert_int_equal(m->nheaders, 3);
	assert_int_equal(m->headers_over, 2);
	/* the size still counts every field: "X: y" CRLF */
	assert_int_equal(m->header_bytes, 5 * 6);
	pn_msg_free(m);

	m = pn_msg_new(1024, "/tmp");
	pn_msg_set_header_limits(m, 0, 20);
	pn_msg_add_header(m, "Subject", " hello");	/* 16 bytes */
	pn_msg_add_header(m, "X", " y");		/* 22: over */
	pn_msg_add_header(m, "Y", "");			/* nothing after the first over */
	assert_int_equal(m->nheaders, 1);
	assert_int_equal(m->headers_over, 2);
	assert_string_equal(pn_msg_header(m, "subject", 1), "hello");
	pn_msg_free(m);

	m = pn_msg_new(1024, "/tmp");	/* 0, 0: no limit */
	for (i = 0; i < 100000; i++)
		pn_msg_add_header(m, "X", " y");
	assert_int_equal(m->nheaders, 100000);
	assert_int_equal(m->headers_over, 0);
	pn_msg_free(m);
}

static void packed_fields_of_any_size_stay_intact(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");
	size_t big = 200 * 1024, i;
	char *long_value = pn_malloc(big + 2), name[32];
	pn_buf b;

	(void)state;
	long_value[0] = ' ';
	memset(long_value + 1, 'v', big);
	long_value[big + 1] = '\0';
	/* small fields around fields larger than a storage block */
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "X-%zu", i);
		pn_msg_add_header(m, name, i % 5000 == 7 ? long_value : " short");
	}
	assert_int_equal(m->nheaders, 20000);
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "X-%zu", i);
		assert_string_equal(m->headers[i].name, name);
		if (i % 5000 == 7)
			assert_int_equal(strlen(m->headers[i].value), big);
		else
			assert_string_equal(m->headers[i].value, "short");
	}
	pn_buf_init(&b, 0);
	assert_int_equal(pn_msg_write_headers(m, &b), 0);
	assert_int_equal(m->header_bytes + 2, pn_buf_len(&b));
	pn_buf_free(&b);
	pn_free(long_value);
	pn_msg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(limits_stop_keeping_fields),
		cmocka_unit_test(packed_fields_of_any_size_stay_intact),
	};
	return cmocka_run_group_tests_name("msg_headers", tests, NULL, NULL);
}
