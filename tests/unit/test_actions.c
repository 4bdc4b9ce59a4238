/* SPDX-License-Identifier: BSD-2-Clause */
/* test_actions - validation (header injection, reply codes) and dry-run output */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/actions.h"
#include "common/alloc.h"

static void header_validation_table(void **state)
{
	static const struct {
		const char *name, *value;
		int want;
	} cases[] = {
		{"X-Test", "plain value", 0},
		{"X-Test", "folded\n\tcontinuation", 0},
		{"X-Test", "folded\n continuation", 0},
		{"X-Test", "", 0},
		{"X-Test", "injected\r\nBcc: victim@example.com", -1},
		{"X-Test", "bare lf\nBcc: victim@example.com", -1},
		{"X-Test", "trailing lf\n", -1},
		{"X-Test", "cr\ronly", -1},
		{"", "empty name", -1},
		{"X Test", "space in name", -1},
		{"X:Test", "colon in name", -1},
		{"X-T\xc3\xa9st", "8-bit name", -1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_actions *a = pn_actions_new();
		int got = pn_actions_add_header(a, cases[i].name, cases[i].value);
		if (got != cases[i].want)
			fail_msg("add_header(\"%s\", \"%s\"): got %d, want %d", cases[i].name,
				 cases[i].value, got, cases[i].want);
		assert_int_equal(pn_actions_count(a), got == 0 ? 1 : 0);
		pn_actions_free(a);
	}
}

static void reply_codes_must_fit_verdict(void **state)
{
	static const struct {
		pn_verdict v;
		const char *rcode, *xcode;
		int want;
	} cases[] = {
		{PN_REJECT, "550", "5.7.1", 0},
		{PN_REJECT, "554", NULL, 0},
		{PN_TEMPFAIL, "451", "4.7.1", 0},
		{PN_REJECT, "451", "4.7.1", -1},
		{PN_TEMPFAIL, "550", "5.7.1", -1},
		{PN_REJECT, "550", "4.7.1", -1},
		{PN_REJECT, "55", NULL, -1},
		{PN_REJECT, "5x0", NULL, -1},
		{PN_CONTINUE, "250", NULL, -1},
		{PN_DISCARD, NULL, NULL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_actions *a = pn_actions_new();
		int got = pn_actions_set_reply(a, cases[i].v, cases[i].rcode, cases[i].xcode, "text");
		if (got != cases[i].want)
			fail_msg("set_reply(%s, %s, %s): got %d, want %d",
				 pn_verdict_name(cases[i].v), cases[i].rcode ? cases[i].rcode : "NULL",
				 cases[i].xcode ? cases[i].xcode : "NULL", got, cases[i].want);
		pn_actions_free(a);
	}
}

static void recipients_and_quarantine_refuse_line_breaks(void **state)
{
	pn_actions *a = pn_actions_new();

	(void)state;
	assert_int_equal(pn_actions_add_rcpt(a, "<a@example.com>\r\nRCPT TO:<b@x>", NULL), -1);
	assert_int_equal(pn_actions_delete_rcpt(a, ""), -1);
	assert_int_equal(pn_actions_quarantine(a, "two\nlines"), -1);
	assert_int_equal(pn_actions_change_from(a, "<x@y>", "SIZE=1\r\n"), -1);
	assert_int_equal(pn_actions_set_reply(a, PN_REJECT, "550", NULL, "a\r\nb"), -1);
	assert_int_equal(pn_actions_count(a), 0);
	assert_string_equal(pn_actions_error(a), "reply text contains CR or LF");
	pn_actions_free(a);
}

static void dry_run_output(void **state)
{
	pn_actions *a = pn_actions_new();
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(pn_actions_add_header(a, "X-Tag", "one\n\ttwo"), 0);
	assert_int_equal(pn_actions_insert_header(a, 0, "X-First", "v"), 0);
	assert_int_equal(pn_actions_change_header(a, "Subject", 1, "[tag] hi"), 0);
	assert_int_equal(pn_actions_delete_header(a, "X-Spam", 2), 0);
	assert_int_equal(pn_actions_add_rcpt(a, "<archive@example.com>", "NOTIFY=NEVER"), 0);
	assert_int_equal(pn_actions_delete_rcpt(a, "<old@example.com>"), 0);
	assert_int_equal(pn_actions_change_from(a, "<bounce@example.com>", NULL), 0);
	assert_int_equal(pn_actions_quarantine(a, "policy hold"), 0);
	assert_int_equal(pn_actions_change_header(a, "Subject", 0, "x"), -1);
	assert_int_equal(pn_actions_set_reply(a, PN_TEMPFAIL, "451", "4.7.0", "try later"), 0);
	pn_actions_print(a, fp);
	fclose(fp);
	assert_string_equal(out,
		"add_header X-Tag: one\\n\ttwo\n"
		"insert_header 0 X-First: v\n"
		"change_header Subject[1]: [tag] hi\n"
		"delete_header X-Spam[2]\n"
		"add_rcpt <archive@example.com> NOTIFY=NEVER\n"
		"delete_rcpt <old@example.com>\n"
		"change_from <bounce@example.com>\n"
		"quarantine policy hold\n"
		"verdict tempfail 451 4.7.0 try later\n");
	free(out);
	pn_actions_clear(a);
	assert_int_equal(pn_actions_count(a), 0);
	assert_int_equal(a->verdict, PN_CONTINUE);
	pn_actions_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_validation_table),
		cmocka_unit_test(reply_codes_must_fit_verdict),
		cmocka_unit_test(recipients_and_quarantine_refuse_line_breaks),
		cmocka_unit_test(dry_run_output),
	};
	return cmocka_run_group_tests_name("actions", tests, NULL, NULL);
}
