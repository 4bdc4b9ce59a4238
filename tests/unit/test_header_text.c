/* SPDX-License-Identifier: BSD-2-Clause */
/* test_header_text - the one display form of a header value (archive index, audit record) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/header_text.h"
#include "tests/unit/testlib.h"

#define FFFD "\xef\xbf\xbd"

static const struct display_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	pn_header_kind kind;
	const char *want;
} cases[] = {
	/* text: unfolded, encoded-words decoded, trimmed; inner tabs kept */
	{ "  =?UTF-8?Q?caf=C3=A9?= report\r\n\tfolded \t", 0, PN_HEADER_TEXT,
	  "caf\xc3\xa9 report\tfolded" },
	{ "=?iso-8859-1?q?J=FCrgen?= M\xc3\xbcller", 0, PN_HEADER_TEXT, "J\xc3\xbcrgen M\xc3\xbcller" },
	{ "=?utf-8?b?4oKs?= =?utf-8?b?IDEwMA==?=", 0, PN_HEADER_TEXT, "\xe2\x82\xac 100" },
	{ "broken \xff bytes", 0, PN_HEADER_TEXT, "broken " FFFD " bytes" },
	{ "a\0b", 3, PN_HEADER_TEXT, "a" FFFD "b" },
	{ " \t\r\n ", 0, PN_HEADER_TEXT, "" },
	{ "", 0, PN_HEADER_TEXT, "" },
	/* identifiers and dates: unfolded and made UTF-8, never decoded */
	{ " <=?UTF-8?Q?x?=@example.com> ", 0, PN_HEADER_ID, "<=?UTF-8?Q?x?=@example.com>" },
	{ "Wed, 01 May 2024\r\n 12:00:00 +0000", 0, PN_HEADER_ID, "Wed, 01 May 2024 12:00:00 +0000" },
	{ "<bad\xffid@example.com>", 0, PN_HEADER_ID, "<bad" FFFD "id@example.com>" },
	{ "\t", 0, PN_HEADER_ID, "" },
};

static void displays_header_values(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct display_case *c = &cases[i];
		char *got = pn_header_display(c->in, c->len ? c->len : strlen(c->in), c->kind);

		if (!t_str_eq(got, c->want)) {
			print_error("case %zu: got \"%s\", want \"%s\"\n", i, got, c->want);
			bad++;
		}
		pn_free(got);
	}
	if (bad)
		fail_msg("%zu display case(s) failed", bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(displays_header_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
