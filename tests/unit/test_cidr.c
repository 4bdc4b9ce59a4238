/* SPDX-License-Identifier: BSD-2-Clause */
/* test_cidr - network lists: parsing errors and matching, IPv4, IPv6, mapped */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cidr.h"

static void matching_table(void **state)
{
	static const struct {
		const char *list, *ip;
		int want;
	} cases[] = {
		{"192.0.2.0/24", "192.0.2.77", 1},
		{"192.0.2.0/24", "192.0.3.1", 0},
		{"192.0.2.0/25", "192.0.2.127", 1},
		{"192.0.2.0/25", "192.0.2.128", 0},
		{"192.0.2.0/24", "::ffff:192.0.2.9", 1},
		{"192.0.2.0/24", "IPv6:::ffff:192.0.2.9", 1},
		{"2001:db8::/32", "2001:db8:1::5", 1},
		{"2001:db8::/32", "2001:db9::5", 0},
		{"2001:db8::/32", "IPv6:2001:db8::1", 1},
		{"[2001:db8::]/32", "2001:db8::1", 1},
		{"2001:db8::/32", "192.0.2.1", 0},
		{"192.0.2.0/24, 2001:db8::/32 198.51.100.7", "198.51.100.7", 1},
		{"192.0.2.0/24, 2001:db8::/32 198.51.100.7", "198.51.100.8", 0},
		{"0.0.0.0/0", "203.0.113.1", 1},
		{"::/0", "2001:db8::1", 1},
		{"::/0", "192.0.2.1", 0},
		{"10.0.0.0/8", "not-an-ip", 0},
		{"10.0.0.0/8", "", 0},
		{"", "10.0.0.1", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		pn_cidr_list *l = pn_cidr_list_parse(cases[i].list, &err);
		int got;
		if (l == NULL)
			fail_msg("parse \"%s\": %s", cases[i].list, err);
		got = pn_cidr_list_match(l, cases[i].ip);
		if (got != cases[i].want)
			fail_msg("\"%s\" in \"%s\": got %d, want %d", cases[i].ip, cases[i].list, got,
				 cases[i].want);
		pn_cidr_list_free(l);
	}
}

static void parse_errors_table(void **state)
{
	static const struct {
		const char *list, *want;
	} cases[] = {
		{"192.0.2.1/24", "\"192.0.2.1/24\": address has bits set beyond the /24 prefix"},
		{"192.0.2.0/33", "\"192.0.2.0/33\": prefix longer than 32"},
		{"192.0.2.0/", "\"192.0.2.0/\": bad prefix length"},
		{"192.0.2.0/x", "\"192.0.2.0/x\": bad prefix length"},
		{"example.com", "\"example.com\": not an IPv4 or IPv6 address"},
		{"10.0.0.0/8,300.1.1.1", "\"300.1.1.1\": not an IPv4 or IPv6 address"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		pn_cidr_list *l = pn_cidr_list_parse(cases[i].list, &err);
		assert_null(l);
		if (err == NULL || strcmp(err, cases[i].want) != 0)
			fail_msg("parse \"%s\": got %s, want %s", cases[i].list, err ? err : "NULL",
				 cases[i].want);
		pn_free(err);
	}
}

static void counts(void **state)
{
	char *err = NULL;
	pn_cidr_list *l = pn_cidr_list_parse(" 10.0.0.0/8 ,, 2001:db8::/32 ", &err);

	(void)state;
	assert_non_null(l);
	assert_int_equal(pn_cidr_list_count(l), 2);
	pn_cidr_list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matching_table),
		cmocka_unit_test(parse_errors_table),
		cmocka_unit_test(counts),
	};
	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
