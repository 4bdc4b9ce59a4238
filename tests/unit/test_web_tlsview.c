/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_web_tlsview - the TLS partners table and one partner's sessions,
 * from a real postern-tls policy file and audit trail records.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "milters/web/tlsview.h"
#include "tests/unit/testlib.h"

static const char *dir;
static char *policy, *old_trail, *new_trail;

static const char policy_text[] =
	"# partners\n"
	"partner.example   min_version=TLSv1.2 action=reject\n"
	".bank.example     verify=yes direction=both\n"
	"b\xc3\xbc" "cher.example   min_version=TLSv1.3 action=tag\n"
	"*                 tls=optional action=log\n";

#define MSG(ts, qid, from, rcpt, tls, extra)                                                      \
	"{\"schema\":1,\"seq\":1,\"ts\":\"" ts "\",\"host\":\"mx\",\"event\":\"message\","        \
	"\"queue_id\":\"" qid "\",\"client\":{\"ip\":\"192.0.2.1\"}," tls                         \
	"\"envelope\":{\"from\":\"" from "\",\"rcpt\":[\"" rcpt "\"]}" extra ",\"prev\":\"x\"}\n"
#define TLS13 "\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_128_GCM_SHA256\",\"bits\":128,\"verified\":false},"

/* the older, rotated file */
static const char old_text[] =
	MSG("2026-12-01T10:00:00.000Z", "OLD1", "a@partner.example", "u@local.example", TLS13,
	    ",\"engines\":{\"tls\":{\"verdict\":\"pass\"}}");

/* the current file, oldest first */
static const char new_text[] =
	"{\"schema\":1,\"seq\":2,\"ts\":\"2026-12-05T10:00:00.000Z\",\"host\":\"mx\",\"event\":"
	"\"connection\",\"client\":{\"ip\":\"192.0.2.9\"},\"prev\":\"x\"}\n"
	"{\"schema\":1,\"seq\":3,\"ts\":\"2026-12-05T10:01:00.000Z\",\"host\":\"mx\",\"event\":"
	"\"refused\",\"queue_id\":\"REF1\",\"envelope\":{\"from\":\"b@Partner.Example\",\"rcpt\":"
	"[]},\"refusal\":{\"step\":\"mail\",\"verdict\":\"reject\",\"by\":\"tls\"},\"prev\":\"x\"}\n"
	MSG("2026-12-05T10:02:00.000Z", "PLAIN1", "c@partner.example", "u@local.example", "", "")
	MSG("2026-12-05T10:03:00.000Z", "IDN1", "x@b\xc3\xbc" "cher.example", "u@local.example",
	    "\"tls\":{\"version\":\"TLSv1.2\",\"cipher\":\"<script>alert(1)</script>\",\"verified\":false},", "")
	MSG("2026-12-05T10:04:00.000Z", "OUT1", "u@local.example", "z@mail.bank.example", TLS13,
	    ",\"engines\":{\"tls\":{\"rcpt\":\"mail.bank.example=pass\"}}")
	MSG("2026-12-05T10:05:00.000Z", "ELSE1", "o@elsewhere.example", "u@local.example", TLS13, "")
	"this line is not JSON but mentions partner.example \"envelope\"\n";

static char *page(int one, const char *domain, const web_tls_opts *o)
{
	char *files[2] = { old_trail, new_trail }, *err = NULL;
	pn_buf out;
	int rc;

	pn_buf_init(&out, 0);
	rc = one ? web_tls_partner(&out, domain, policy, files, 2, o, &err)
		 : web_tls_partners(&out, policy, files, 2, o, &err);
	if (rc < 0)
		fail_msg("tlsview: %s", err);
	return pn_buf_steal(&out, NULL);
}

static void test_partners(void **state)
{
	char *p = page(0, NULL, NULL);

	(void)state;
	assert_non_null(strstr(p, "<table id=\"partners\">"));
	assert_int_equal(t_count(p, "<tr class=\"partner\">"), 4);
	/* partner.example: OLD1 pass, REF1 refused, PLAIN1 without TLS */
	assert_non_null(strstr(p, "<a href=\"/tls?domain=partner.example\">partner.example</a></td>"
			       "<td class=\"rule\">tls=required min_version=TLSv1.2 direction=inbound "
			       "action=reject</td><td class=\"compliant\">1</td><td class=\"refused\">1"
			       "</td><td class=\"violations\">1</td>"));
	assert_non_null(strstr(p, "href=\"/tls?domain=.bank.example\""));
	assert_non_null(strstr(p, ".bank.example</a></td><td class=\"rule\">tls=required verify=yes "
			       "direction=both action=reject</td><td class=\"compliant\">1</td>"));
	assert_non_null(strstr(p, "xn--bcher-kva.example</a></td><td class=\"rule\">tls=required "
			       "min_version=TLSv1.3 direction=inbound action=tag</td><td class=\""
			       "compliant\">0</td><td class=\"refused\">0</td><td class=\"violations\">1"));
	assert_non_null(strstr(p, "* (every other domain)"));
	pn_free(p);
}

static void test_partner_sessions(void **state)
{
	web_tls_opts o;
	char *p;

	(void)state;
	/* any spelling of the domain finds it */
	p = page(1, "PARTNER.Example.", NULL);
	assert_non_null(strstr(p, "<div id=\"compliance\">"));
	assert_non_null(strstr(p, "Policy partner.example (line 2): tls=required"));
	assert_non_null(strstr(p, "3 sessions: 1 compliant, 1 refused, 1 other violations."));
	assert_int_equal(t_count(p, "<tr class=\"session\">"), 3);
	/* newest first, across the rotated file */
	assert_true(strstr(p, "PLAIN1") < strstr(p, "REF1"));
	assert_true(strstr(p, "REF1") < strstr(p, "OLD1"));
	assert_non_null(strstr(p, "<td class=\"verdict violation\">no TLS</td>"));
	assert_non_null(strstr(p, "<td class=\"verdict refused\">reject</td>"));
	assert_non_null(strstr(p, "<td class=\"version\">TLSv1.3</td><td class=\"cipher\">"
			       "TLS_AES_128_GCM_SHA256</td><td class=\"bits\">128</td>"));
	pn_free(p);

	/* IDN: the U-label finds the A-label's records, mail data escaped */
	p = page(1, "B\xc3\x9c" "CHER.example", NULL);
	assert_non_null(strstr(p, "1 sessions: 0 compliant, 0 refused, 1 other violations."));
	assert_non_null(strstr(p, "TLS version too old"));
	assert_non_null(strstr(p, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_null(strstr(p, "<script"));
	pn_free(p);

	/* a ".D" key: every subdomain, outbound by postern-tls's own note */
	p = page(1, ".bank.example", NULL);
	assert_non_null(strstr(p, "1 sessions: 1 compliant"));
	assert_non_null(strstr(p, "<td class=\"direction\">outbound</td>"));
	pn_free(p);

	/* no policy line */
	p = page(1, "elsewhere.example", NULL);
	assert_non_null(strstr(p, "Policy * (line 5)"));
	pn_free(p);

	/* bounds */
	memset(&o, 0, sizeof(o));
	o.max_sessions = 2;
	p = page(1, "partner.example", &o);
	assert_int_equal(t_count(p, "<tr class=\"session\">"), 2);
	assert_non_null(strstr(p, "3 sessions"));
	assert_null(strstr(p, "OLD1"));
	pn_free(p);
	memset(&o, 0, sizeof(o));
	o.max_lines = 3;	/* only the newest file's first lines */
	p = page(1, "partner.example", &o);
	assert_non_null(strstr(p, "id=\"sessions-bound\""));
	assert_non_null(strstr(p, "2 sessions: 0 compliant, 1 refused, 1 other"));
	pn_free(p);
	memset(&o, 0, sizeof(o));
	o.since = 1796466000;	/* 2026-12-05 10:20 UTC: none is newer */
	p = page(1, "partner.example", &o);
	assert_non_null(strstr(p, "0 sessions"));
	pn_free(p);
	o.since = 1796466000 - 20 * 60;	/* 10:00: the two of that morning */
	p = page(1, "partner.example", &o);
	assert_non_null(strstr(p, "2 sessions"));
	pn_free(p);
}

static void test_errors(void **state)
{
	char *files[1] = { new_trail }, *err = NULL, *bad;
	pn_buf out;

	(void)state;
	pn_buf_init(&out, 0);
	assert_int_equal(web_tls_partner(&out, "a..b", policy, files, 1, NULL, &err), -1);
	assert_non_null(err);
	pn_free(err);
	bad = pn_asprintf("%s/bad_policy", dir);
	assert_int_equal(t_write_file(bad, "x.example min_version=TLSv9\n", 28), 0);
	assert_int_equal(web_tls_partners(&out, bad, files, 1, NULL, &err), -1);
	assert_non_null(strstr(err, "bad_policy:1"));
	pn_free(err);
	/* no policy configured: an empty table that says so */
	pn_buf_reset(&out);
	assert_int_equal(web_tls_partners(&out, NULL, files, 1, NULL, &err), 0);
	assert_non_null(strstr(pn_buf_str(&out), "id=\"no-partners\""));
	/* an unreadable trail file is said in the page */
	pn_buf_reset(&out);
	files[0] = bad;
	pn_free(bad);
	files[0] = "/nonexistent/trail.jsonl";
	assert_int_equal(web_tls_partner(&out, "partner.example", policy, files, 1, NULL, &err), 0);
	assert_non_null(strstr(pn_buf_str(&out), "/nonexistent/trail.jsonl"));
	pn_buf_free(&out);
}

static int setup(void **state)
{
	(void)state;
	dir = t_tmpdir("test_web_tlsview");
	policy = pn_asprintf("%s/tls_policy", dir);
	old_trail = pn_asprintf("%s/audit.jsonl.1", dir);
	new_trail = pn_asprintf("%s/audit.jsonl", dir);
	if (t_write_file(policy, policy_text, strlen(policy_text)) < 0
	    || t_write_file(old_trail, old_text, strlen(old_text)) < 0
	    || t_write_file(new_trail, new_text, strlen(new_text)) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	t_rmtree(dir);
	pn_free(policy);
	pn_free(old_trail);
	pn_free(new_trail);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partners),
		cmocka_unit_test(test_partner_sessions),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
