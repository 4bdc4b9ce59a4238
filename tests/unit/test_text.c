/* SPDX-License-Identifier: BSD-2-Clause */
/* test_text - pn_trim and pn_parse_mode (common/text) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/text.h"

static void trims_spaces_and_tabs_at_both_ends(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "", "" }, { " \t ", "" }, { "a", "a" }, { "  a b\t", "a b" },
		{ "\ta\t\tb  ", "a\t\tb" }, { "a\n", "a\n" },	/* only space and tab */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = pn_strdup(cases[i].in);
		assert_ptr_equal(pn_trim(s), s);
		assert_string_equal(s, cases[i].want);
		pn_free(s);
	}
}

static void parses_octal_modes_and_refuses_the_rest(void **state)
{
	static const char *const bad[] = { "", "8", "0777x", "1000", "4755", "-0", "+7",
					   " 644", "0x1ff", "07777" };
	mode_t m = 1;
	size_t i;

	(void)state;
	assert_int_equal(pn_parse_mode("0660", &m), 0);
	assert_int_equal(m, 0660);
	assert_int_equal(pn_parse_mode("640", &m), 0);
	assert_int_equal(m, 0640);
	assert_int_equal(pn_parse_mode("0", &m), 0);
	assert_int_equal(m, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = 0123;
		if (pn_parse_mode(bad[i], &m) != -1 || m != 0123)
			fail_msg("\"%s\": accepted as %o", bad[i], (unsigned)m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trims_spaces_and_tabs_at_both_ends),
		cmocka_unit_test(parses_octal_modes_and_refuses_the_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
