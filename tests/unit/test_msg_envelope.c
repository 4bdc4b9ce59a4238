/* SPDX-License-Identifier: BSD-2-Clause */
/* test_msg_envelope - one canonical envelope address per MAIL/RCPT in the message context */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/milter/msg.h"

/* path_only - without MTA macros the path is parsed as Postfix would */
static void path_only(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");

	(void)state;
	pn_msg_set_sender(m, "<a(x)@PARTNER.example. >", NULL);
	assert_true(m->sender_canon_ok);
	assert_string_equal(m->sender_canon.address, "a@partner.example");
	assert_string_equal(m->sender, "<a(x)@PARTNER.example. >");	/* as given, too */
	pn_msg_add_rcpt(m, "<\"b c\"@b\xc3\xbc" "cher.example>", NULL);
	assert_true(m->rcpts[0].canon_ok);
	assert_string_equal(m->rcpts[0].canon.domain, "xn--bcher-kva.example");
	assert_string_equal(m->rcpts[0].canon.local, "b c");
	pn_msg_add_rcpt(m, "<not an address", NULL);
	assert_false(m->rcpts[1].canon_ok);
	assert_string_equal(m->rcpts[1].canon.domain, "");
	pn_msg_free(m);
}

/* mta_wins - {mail_addr} and {rcpt_addr} replace the parse of the path */
static void mta_wins(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");

	(void)state;
	pn_msg_set_sender(m, "<a(x)@elsewhere.example>", NULL);
	pn_msg_set_sender_mta(m, "a@partner.example");
	assert_true(m->sender_canon_ok);
	assert_string_equal(m->sender_canon.address, "a@partner.example");
	pn_msg_set_sender_mta(m, NULL);		/* no macro: nothing changes */
	assert_string_equal(m->sender_canon.address, "a@partner.example");
	pn_msg_add_rcpt(m, "<b@one.example>", NULL);
	pn_msg_add_rcpt(m, "<c@two.example>", NULL);
	pn_msg_set_rcpt_mta(m, "c@Two.Example.");	/* the last recipient only */
	assert_string_equal(m->rcpts[0].canon.address, "b@one.example");
	assert_string_equal(m->rcpts[1].canon.address, "c@two.example");
	pn_msg_drop_last_rcpt(m);
	assert_int_equal(m->nrcpts, 1);
	pn_msg_add_rcpt(m, "<d@three.example>", NULL);
	assert_string_equal(m->rcpts[1].canon.address, "d@three.example");
	pn_msg_free(m);
}

/* null_sender - "<>" is the null sender; an empty macro cannot make a path one */
static void null_sender(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");

	(void)state;
	pn_msg_set_sender(m, "<>", NULL);
	pn_msg_set_sender_mta(m, "");
	assert_true(m->sender_canon_ok);
	assert_string_equal(m->sender_canon.address, "");
	pn_msg_set_sender(m, "<a@partner.example>", NULL);
	pn_msg_set_sender_mta(m, "");
	assert_true(m->sender_canon_ok);
	assert_string_equal(m->sender_canon.address, "a@partner.example");
	pn_msg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(path_only),
		cmocka_unit_test(mta_wins),
		cmocka_unit_test(null_sender),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
