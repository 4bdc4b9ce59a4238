/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sort_ext - spamtest/virustest readings and the duplicate IDs a run leaves for the engine */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/milter/msg.h"
#include "milters/sort/sieve.h"
#include "tests/unit/testlib.h"

/* run - script on a message whose header fields are given; the actions as
 * postern-sort test prints them; r (may be NULL) receives the result */
static char *run(const char *script, const char *fields, const sv_services *svc, time_t now,
		 sv_result *keep_result)
{
	char *err = NULL, *out = NULL, *text;
	size_t outlen = 0;
	sv_script *s = sv_compile("t", script, strlen(script), NULL, &err);
	pn_msg *m;
	sv_env env;
	sv_result r;
	FILE *fp;

	if (s == NULL)
		fail_msg("compile: %s", err);
	text = pn_asprintf("From: a@example.com\nTo: bob@example.org\n%s\nbody\n", fields);
	m = pn_msg_load(text, strlen(text), 1 << 20, "/tmp");
	pn_msg_set_sender(m, "<a@example.com>", NULL);
	memset(&env, 0, sizeof(env));
	env.msg = m;
	env.from = m->sender;
	env.to = "<bob@example.org>";
	env.svc = svc;
	env.now = now;
	sv_result_init(&r, m);
	sv_run(s, &env, &r);
	fp = open_memstream(&out, &outlen);
	sv_result_print(&r, fp);
	fclose(fp);
	if (keep_result) {
		*keep_result = r;
		keep_result->msg = NULL;
	} else {
		sv_result_clear(&r);
	}
	pn_msg_free(m);
	pn_free(text);
	sv_script_free(s);
	return out;
}

static const char SPAM_SCRIPT[] =
	"require [\"spamtestplus\", \"virustest\", \"fileinto\", \"variables\"];\n"
	"if spamtest :matches \"*\" { set \"s\" \"${1}\"; }\n"
	"if spamtest :percent :matches \"*\" { set \"p\" \"${1}\"; }\n"
	"if virustest :matches \"*\" { set \"v\" \"${1}\"; }\n"
	"fileinto \"s${s}-p${p}-v${v}\";\n";

/* spam_readings - every status type and both ways of giving the maximum */
static void spam_readings(void **state)
{
	static const struct {
		sv_spamparams spam, virus;
		const char *fields, *want;
	} cases[] = {
		/* score of a fixed maximum; over the maximum is the maximum */
		{{"X-Score", "score", "", "10", ""}, {"", "", "", "", ""},
		 "X-Score: 5\n", "fileinto \"s5-p50-v0\"\n"},
		{{"X-Score", "score", "", "10", ""}, {"", "", "", "", ""},
		 "X-Score: 250.5\n", "fileinto \"s10-p100-v0\"\n"},
		{{"X-Score", "score", "", "10", ""}, {"", "", "", "", ""},
		 "X-Score: -3\n", "fileinto \"s1-p0-v0\"\n"},
		/* not a number, or no field: not tested */
		{{"X-Score", "score", "", "10", ""}, {"", "", "", "", ""},
		 "X-Score: 5 points\n", "fileinto \"s0-p0-v0\"\n"},
		{{"X-Score", "score", "", "10", ""}, {"", "", "", "", ""},
		 "X-Other: 5\n", "fileinto \"s0-p0-v0\"\n"},
		/* the first field counts */
		{{"X-Score", "score", "", "10", ""}, {"", "", "", "", ""},
		 "X-Score: 1\nX-Score: 9\n", "fileinto \"s1-p10-v0\"\n"},
		/* strlen: SpamAssassin's star bar */
		{{"X-Spam-Level", "strlen", "", "10", ""}, {"", "", "", "", ""},
		 "X-Spam-Level: ********\n", "fileinto \"s8-p80-v0\"\n"},
		{{"X-Spam-Level", "strlen", "", "10", ""}, {"", "", "", "", ""},
		 "X-Spam-Level: **+*\n", "fileinto \"s0-p0-v0\"\n"},
		/* the maximum from a field; a maximum of 0 is not tested */
		{{"X-R: ([0-9.]+)/", "score", "X-R: /([0-9.]+)", "", ""}, {"", "", "", "", ""},
		 "X-R: 3/12\n", "fileinto \"s3-p25-v0\"\n"},
		{{"X-R: ([0-9.]+)/", "score", "X-R: /([0-9.]+)", "", ""}, {"", "", "", "", ""},
		 "X-R: 3/0\n", "fileinto \"s0-p0-v0\"\n"},
		/* text, for both tests */
		{{"X-Spam", "text", "", "", "1=No, 10=Yes"}, {"X-Virus", "text", "", "", "1=clean, 5=bad"},
		 "X-Spam: Yes\nX-Virus: clean\n", "fileinto \"s10-p100-v1\"\n"},
		{{"X-Spam", "text", "", "", "1=No, 10=Yes"}, {"X-Virus", "text", "", "", "1=clean, 5=bad"},
		 "X-Spam: yes\nX-Virus: bad\n", "fileinto \"s0-p0-v5\"\n"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL, *got;
		sv_services svc;

		memset(&svc, 0, sizeof(svc));
		svc.spam = sv_spamconf_new(&cases[i].spam, &cases[i].virus, &err);
		if (svc.spam == NULL)
			fail_msg("case %zu: %s", i, err);
		got = run(SPAM_SCRIPT, cases[i].fields, &svc, 1000, NULL);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu (%s): got %s want %s", i, cases[i].fields, got, cases[i].want);
		free(got);
		sv_spamconf_free((struct sv_spamconf *)svc.spam);
	}
	/* without settings (the daemon with none, or no services at all) */
	{
		char *got = run(SPAM_SCRIPT, "X-Score: 5\n", NULL, 1000, NULL);
		assert_string_equal(got, "fileinto \"s0-p0-v0\"\n");
		free(got);
	}
}

/* a store that has seen every key whose first byte is odd */
static int odd_seen(void *arg, const unsigned char key[32], time_t now)
{
	int *calls = arg;

	(*calls)++;
	assert_int_equal(now, 5000);
	return key[0] & 1;
}

/* duplicate_leaves_marks - what the engine records after the run */
static void duplicate_leaves_marks(void **state)
{
	sv_services svc;
	sv_result r;
	int calls = 0;
	char *got;
	size_t i;

	(void)state;
	memset(&svc, 0, sizeof(svc));
	svc.seen = odd_seen;
	svc.arg = &calls;
	/* handles 0..5: about half are "seen"; :seconds is capped at 2 days */
	got = run("require [\"duplicate\", \"fileinto\"];\n"
		  "if duplicate :handle \"0\" { fileinto \"d0\"; }\n"
		  "if duplicate :handle \"1\" :seconds 60 { fileinto \"d1\"; }\n"
		  "if duplicate :handle \"2\" :seconds 99999999 :last { fileinto \"d2\"; }\n"
		  "if duplicate :handle \"3\" :last { fileinto \"d3\"; }\n"
		  "if duplicate :handle \"4\" :uniqueid \"\" { fileinto \"d4\"; }\n"
		  "if duplicate :handle \"5\" :header \"X-None\" { fileinto \"d5\"; }\n"
		  "if duplicate :handle \"0\" { fileinto \"again\"; }\n",
		  "Message-ID: <m1@example.com>\n", &svc, 5000, &r);
	/* handles 4 and 5 have no ID: neither asked nor tracked */
	assert_int_equal(calls, 5);
	/* every test not seen leaves a mark; a seen one only with :last; the
	 * same key twice leaves one mark */
	for (i = 0; i < r.nmarks; i++) {
		assert_true(r.marks[i].seconds == 12 * 3600 || r.marks[i].seconds == 60
			    || r.marks[i].seconds == 2 * 86400);
	}
	assert_true(r.nmarks >= 1 && r.nmarks <= 4);
	assert_null(strstr(got, "d4"));
	assert_null(strstr(got, "d5"));
	free(got);
	sv_result_clear(&r);

	/* a run that fails leaves no mark */
	calls = 0;
	got = run("require [\"duplicate\", \"variables\"];\n"
		  "if duplicate :uniqueid \"x\" { keep; }\n"
		  "set \"a\" \"not an address\";\nredirect \"${a}\";\n",
		  "Message-ID: <m2@example.com>\n", &svc, 5000, &r);
	assert_int_equal(calls, 1);
	assert_non_null(r.error);
	assert_int_equal(r.nmarks, 0);
	free(got);
	sv_result_clear(&r);

	/* no store: never a duplicate, the IDs are still listed */
	got = run("require [\"duplicate\", \"fileinto\"];\n"
		  "if duplicate { fileinto \"dup\"; }\n",
		  "Message-ID: <m3@example.com>\n", NULL, 5000, &r);
	assert_string_equal(got, "keep\n");
	assert_int_equal(r.nmarks, 1);
	free(got);
	sv_result_clear(&r);
}

/* duplicate_key_is_per_recipient_and_handle - the key changes with each part */
static void duplicate_key_is_per_recipient_and_handle(void **state)
{
	sv_result a, b, c;
	char *got;

	(void)state;
	got = run("require \"duplicate\";\nif duplicate :handle \"h\" { keep; }\n",
		  "Message-ID: <k@example.com>\n", NULL, 1, &a);
	free(got);
	got = run("require \"duplicate\";\nif duplicate :handle \"h2\" { keep; }\n",
		  "Message-ID: <k@example.com>\n", NULL, 1, &b);
	free(got);
	/* "h" + "2<k@..." must not be "h2" + "<k@...": parts are length-prefixed */
	got = run("require \"duplicate\";\nif duplicate :handle \"h\" :uniqueid \"2<k@example.com>\" "
		  "{ keep; }\n", "Message-ID: <x@example.com>\n", NULL, 1, &c);
	free(got);
	assert_int_equal(a.nmarks, 1);
	assert_int_equal(b.nmarks, 1);
	assert_int_equal(c.nmarks, 1);
	assert_memory_not_equal(a.marks[0].key, b.marks[0].key, 32);
	assert_memory_not_equal(b.marks[0].key, c.marks[0].key, 32);
	sv_result_clear(&a);
	sv_result_clear(&b);
	sv_result_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spam_readings),
		cmocka_unit_test(duplicate_leaves_marks),
		cmocka_unit_test(duplicate_key_is_per_recipient_and_handle),
	};
	pn_log_set_level(PN_LOG_FATAL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
