/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tls_decide - postern-tls decisions: facts against policies, replies, end of message */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "milters/tls/decide.h"
#include "tests/unit/testlib.h"

static const char policy_text[] =
	"partner.example    min_version=TLSv1.2 min_bits=128\n"
	".bank.example      verify=yes cert_issuer=\"Bank Issuing CA\"\n"
	"                   clients=192.0.2.0/24,2001:db8::/32\n"
	"supplier.example   min_version=TLSv1.3 direction=both action=hold\n"
	"rcpt.example       direction=outbound action=tempfail ciphers=ECDHE-*:TLS_AES_*:!*CBC*\n"
	"subj.example       cert_subject=\"*.subj.example\" action=tag\n"
	"open.example       tls=optional min_version=TLSv1.2\n"
	"logged.example     min_version=TLSv1.3 action=log\n"
	"b\xc3\xbc" "cher.example     tls=required\n"
	".xn--caf-dma.example tls=required direction=outbound\n";

#define PF(...) __VA_ARGS__, NULL, NULL, NULL	/* TLS facts, no client certificate */
#define T13 "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256"
#define T12 "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", "256"

static const struct decide_case {
	ptls_stage stage;
	const char *path;
	ptls_facts f;
	const char *key;		/* matched line, NULL: none */
	unsigned failed;
	pn_verdict verdict;
	const char *rcode, *xcode, *text;
} cases[] = {
	/* 0: plaintext from a partner: every TLS requirement in one reply */
	{PTLS_STAGE_MAIL, "<a@partner.example>", {NULL, NULL, NULL, NULL, NULL, NULL, "127.0.0.1"},
	 "partner.example", PTLS_REQ_TLS | PTLS_REQ_VERSION | PTLS_REQ_BITS, PN_REJECT, "550",
	 "5.7.10", "Encryption needed: TLS policy for mail from partner.example requires TLS, "
	 "TLSv1.2 or later, 128 or more cipher bits; seen no TLS"},
	{PTLS_STAGE_MAIL, "<a@Partner.Example>", {PF(T12), "127.0.0.1"}, "partner.example", 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "a@partner.example", {PF("TLSv1.1", "AES256-SHA", "256"), NULL},
	 "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires TLSv1.2 or later; "
	 "seen TLSv1.1"},
	{PTLS_STAGE_MAIL, "<a@partner.example>", {PF("TLSv1.2", "DES-CBC-SHA", "56"), NULL},
	 "partner.example", PTLS_REQ_BITS, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires 128 or more cipher "
	 "bits; seen 56 cipher bits"},
	{PTLS_STAGE_MAIL, "<a@partner.example>", {PF("TLSv1.3", "X", "lots"), NULL},
	 "partner.example", PTLS_REQ_BITS, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires 128 or more cipher "
	 "bits; seen unknown cipher bits"},
	/* 5: partner.example is inbound only: its recipients are not checked */
	{PTLS_STAGE_RCPT, "<b@partner.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	 NULL, 0, PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "mx.bank.example", "Bank Issuing CA", NULL, "192.0.2.5"},
	 ".bank.example", 0, PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "mx.bank.example", "Other CA", NULL, "192.0.2.5"}, ".bank.example",
	 PTLS_REQ_ISSUER, PN_REJECT, "550", "5.7.1", "Not authorized: TLS policy for mail from "
	 "x.bank.example requires client certificate issued by Bank Issuing CA; seen issuer Other CA"},
	{PTLS_STAGE_MAIL, "<a@x.bank.example>", {PF(T13), "192.0.2.5"}, ".bank.example",
	 PTLS_REQ_VERIFY | PTLS_REQ_ISSUER, PN_REJECT, "550", "5.7.1", "Not authorized: TLS policy "
	 "for mail from x.bank.example requires a verified client certificate issued by Bank Issuing "
	 "CA; seen no verified client certificate"},
	/* 9: Sendmail says FAIL: a subject macro does not make it verified */
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "/CN=mx.bank.example", "/CN=Bank+20Issuing+20CA", "FAIL", "192.0.2.5"},
	 ".bank.example", PTLS_REQ_VERIFY | PTLS_REQ_ISSUER, PN_REJECT, "550", "5.7.1",
	 "Not authorized: TLS policy for mail from x.bank.example requires a verified client "
	 "certificate issued by Bank Issuing CA; seen client certificate verify=FAIL"},
	/* Sendmail without {verify} in its macro lists: a full DN proves nothing */
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "/CN=mx.bank.example", "/CN=Bank+20Issuing+20CA", NULL, "192.0.2.5"},
	 ".bank.example", PTLS_REQ_VERIFY | PTLS_REQ_ISSUER, PN_REJECT, "550", "5.7.1",
	 "Not authorized: TLS policy for mail from x.bank.example requires a verified client "
	 "certificate issued by Bank Issuing CA; seen no verified client certificate"},
	/* 10: Sendmail OK: xtext-encoded DN, the issuer's CN matches */
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "/C=DE/O=Bank/CN=mx.bank.example", "/C=DE/O=Bank/CN=Bank+20Issuing+20CA", "OK",
	  "192.0.2.5"}, ".bank.example", 0, PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "mx.bank.example", "Bank Issuing CA", NULL, "10.0.0.1"}, ".bank.example",
	 PTLS_REQ_CLIENTS, PN_REJECT, "550", "5.7.1", "Not authorized: TLS policy for mail from "
	 "x.bank.example requires a client in 192.0.2.0/24,2001:db8::/32; seen client 10.0.0.1"},
	{PTLS_STAGE_MAIL, "<a@x.bank.example>",
	 {T13, "mx.bank.example", "Bank Issuing CA", NULL, "2001:db8::25"}, ".bank.example", 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	/* 13: hold is decided now and applied at end of message */
	{PTLS_STAGE_RCPT, "<b@supplier.example>", {PF(T12), "127.0.0.1"}, "supplier.example",
	 PTLS_REQ_VERSION, PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<b@supplier.example>", {PF(T13), "127.0.0.1"}, "supplier.example", 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_RCPT, "<c@rcpt.example>", {PF("TLSv1.2", "ECDHE-RSA-AES128-CBC-SHA", "128"),
	 NULL}, "rcpt.example", PTLS_REQ_CIPHER, PN_TEMPFAIL, "450", "4.7.10",
	 "Encryption needed: TLS policy for mail to rcpt.example requires cipher "
	 "ECDHE-*:TLS_AES_*:!*CBC*; seen cipher ECDHE-RSA-AES128-CBC-SHA"},
	{PTLS_STAGE_RCPT, "<c@rcpt.example>", {PF(T13), NULL}, "rcpt.example", 0, PN_CONTINUE,
	 NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<c@rcpt.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, NULL, 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<s@subj.example>", {T13, "MX.subj.example", "CA", NULL, NULL},
	 "subj.example", 0, PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<s@subj.example>", {T13, "evil.example", "CA", NULL, NULL},
	 "subj.example", PTLS_REQ_SUBJECT, PN_CONTINUE, NULL, NULL, NULL},
	/* 20: tls=optional: plain text passes, weak TLS does not */
	{PTLS_STAGE_MAIL, "<o@open.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	 "open.example", 0, PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<o@open.example>", {PF("TLSv1", "AES128-SHA", "128"), NULL},
	 "open.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10", "Encryption needed: TLS "
	 "policy for mail from open.example requires TLSv1.2 or later; seen TLSv1"},
	{PTLS_STAGE_MAIL, "<>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, NULL, 0, PN_CONTINUE,
	 NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<a@other.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, NULL, 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	/* an address whose domain cannot be made out, without a "*" line: 451 */
	{PTLS_STAGE_MAIL, "<not an address", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, NULL, 0,
	 PN_TEMPFAIL, "451", "4.7.0", "Cannot tell the domain of <not an address> for the TLS "
	 "policy"},
	/* 25: mail data in a reply is printable ASCII without "%" */
	{PTLS_STAGE_MAIL, "<a@partner.example>", {PF("TLSv1\r\n250 %s ok", "x", "256"), NULL},
	 "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10", "Encryption needed: TLS "
	 "policy for mail from partner.example requires TLSv1.2 or later; seen TLSv1??250 ?s ok"},
	{PTLS_STAGE_MAIL, "<a@logged.example>", {PF(T12), NULL}, "logged.example",
	 PTLS_REQ_VERSION, PN_CONTINUE, NULL, NULL, NULL},
	/* every spelling Postfix reads as a@partner.example is the partner */
	{PTLS_STAGE_MAIL, "<a(x)@partner.example>", {PF(T12), NULL}, "partner.example", 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	{PTLS_STAGE_MAIL, "<a(x)@partner.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	 "partner.example", PTLS_REQ_TLS | PTLS_REQ_VERSION | PTLS_REQ_BITS, PN_REJECT, "550",
	 "5.7.10", "Encryption needed: TLS policy for mail from partner.example requires TLS, "
	 "TLSv1.2 or later, 128 or more cipher bits; seen no TLS"},
	{PTLS_STAGE_MAIL, "<a@partner.example >", {PF("TLSv1.1", "AES256-SHA", "256"), NULL},
	 "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires TLSv1.2 or later; "
	 "seen TLSv1.1"},
	{PTLS_STAGE_MAIL, "< \"a b\"@PARTNER.example. (c) >", {PF("TLSv1.1", "AES256-SHA", "256"),
	 NULL}, "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires TLSv1.2 or later; "
	 "seen TLSv1.1"},
	{PTLS_STAGE_MAIL, "<@relay.example,@r2.example:a@partner.example>",
	 {PF("TLSv1.1", "AES256-SHA", "256"), NULL}, "partner.example", PTLS_REQ_VERSION,
	 PN_REJECT, "550", "5.7.10", "Encryption needed: TLS policy for mail from partner.example "
	 "requires TLSv1.2 or later; seen TLSv1.1"},
	/* 32: percent hack and bang path route to the partner */
	{PTLS_STAGE_MAIL, "<a%partner.example@relay.example>", {PF("TLSv1.1", "AES256-SHA", "256"),
	 NULL}, "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires TLSv1.2 or later; "
	 "seen TLSv1.1"},
	{PTLS_STAGE_MAIL, "<a%partner.example>", {PF("TLSv1.1", "AES256-SHA", "256"), NULL},
	 "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires TLSv1.2 or later; "
	 "seen TLSv1.1"},
	{PTLS_STAGE_MAIL, "<Partner.Example!a>", {PF("TLSv1.1", "AES256-SHA", "256"), NULL},
	 "partner.example", PTLS_REQ_VERSION, PN_REJECT, "550", "5.7.10",
	 "Encryption needed: TLS policy for mail from partner.example requires TLSv1.2 or later; "
	 "seen TLSv1.1"},
	{PTLS_STAGE_MAIL, "<a%nobody.example@relay.example>", {NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL}, NULL, 0, PN_CONTINUE, NULL, NULL, NULL},
	/* a bare local part is qualified by the MTA: no line but "*" covers it */
	{PTLS_STAGE_MAIL, "<root>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, NULL, 0,
	 PN_CONTINUE, NULL, NULL, NULL},
	/* IDN: the A-label of a U-label key, the U-label of an A-label key */
	{PTLS_STAGE_MAIL, "<a@XN--BCHER-KVA.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	 "xn--bcher-kva.example", PTLS_REQ_TLS, PN_REJECT, "550", "5.7.10", "Encryption needed: "
	 "TLS policy for mail from xn--bcher-kva.example requires TLS; seen no TLS"},
	{PTLS_STAGE_RCPT, "<b@mx.CAF\xc3\x89.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	 ".xn--caf-dma.example", PTLS_REQ_TLS, PN_REJECT, "550", "5.7.10", "Encryption needed: "
	 "TLS policy for mail to mx.xn--caf-dma.example requires TLS; seen no TLS"},
	{PTLS_STAGE_MAIL, "<a@\xff.example>", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, NULL, 0,
	 PN_TEMPFAIL, "451", "4.7.0", "Cannot tell the domain of <a@?.example> for the TLS policy"},
};

/* A policy with a "*" line: what cannot be parsed falls to it. */
static const char star_policy_text[] =
	"partner.example    min_version=TLSv1.2\n"
	"*                  min_version=TLSv1.2 action=tempfail\n";

/* test_unparsable_falls_to_star - never "no policy" for an address nobody can read */
static void test_unparsable_falls_to_star(void **state)
{
	static const char *paths[] = {"<not an address", "<a@\xff.example>", "<a@b@c>", "<root>",
				      "<a@partner..example>", NULL};
	char *err = NULL;
	ptls_policy_set *s = ptls_policy_parse(star_policy_text, strlen(star_policy_text),
					       "tls_policy", &err);
	ptls_facts plain = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	ptls_decision d;
	size_t i;

	(void)state;
	assert_non_null(s);
	for (i = 0; paths[i]; i++) {
		ptls_decide(s, PTLS_STAGE_MAIL, paths[i], &plain, &d);
		if (d.policy == NULL || strcmp(d.policy->key, "*") != 0 || d.verdict != PN_TEMPFAIL)
			fail_msg("%s: got policy %s verdict %d", paths[i],
				 d.policy ? d.policy->key : "(none)", d.verdict);
		ptls_decision_clear(&d);
	}
	/* the null sender has no domain and so no partner */
	ptls_decide(s, PTLS_STAGE_MAIL, "<>", &plain, &d);
	assert_null(d.policy);
	assert_int_equal(d.verdict, PN_CONTINUE);
	ptls_decision_clear(&d);
	ptls_policy_free(s);
}

/* test_mta_address_wins - {mail_addr} decides over the path as written */
static void test_mta_address_wins(void **state)
{
	ptls_policy_set *s = state ? *state : NULL;
	ptls_facts plain = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	ptls_decision d;
	pn_addr a;
	int ok;

	ok = pn_addr_parse_envelope("a@partner.example", "<garbage(", &a) == 0;
	assert_true(ok);
	ptls_decide_addr(s, PTLS_STAGE_MAIL, &a, ok, "<garbage(", &plain, &d);
	assert_non_null(d.policy);
	assert_string_equal(d.policy->key, "partner.example");
	assert_int_equal(d.verdict, PN_REJECT);
	ptls_decision_clear(&d);
	pn_addr_clear(&a);
}

/* test_decisions - one table row per behaviour */
static void test_decisions(void **state)
{
	ptls_policy_set *s = state ? *state : NULL;
	size_t i, bad = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decide_case *c = &cases[i];
		ptls_decision d;
		ptls_decide(s, c->stage, c->path, &c->f, &d);
		if (!t_str_eq(d.policy ? d.policy->key : NULL, c->key) || d.failed != c->failed
		    || d.verdict != c->verdict || !t_str_eq(d.rcode, c->rcode)
		    || !t_str_eq(d.xcode, c->xcode) || !t_str_eq(d.text, c->text)) {
			fprintf(stderr, "case %zu %s:\n  got  key=%s failed=0x%x verdict=%d %s %s %s\n"
				"  want key=%s failed=0x%x verdict=%d %s %s %s\n", i, c->path,
				d.policy ? d.policy->key : "(none)", d.failed, d.verdict,
				t_show(d.rcode), t_show(d.xcode), t_show(d.text), t_show(c->key), c->failed,
				c->verdict, t_show(c->rcode), t_show(c->xcode), t_show(c->text));
			bad++;
		}
		ptls_decision_clear(&d);
	}
	assert_int_equal(bad, 0);
}

/* eom_output - the actions for a sequence of decisions, as the test tool prints them */
static char *eom_output(ptls_policy_set *s, const ptls_facts *f, const char *from,
			const char *const *rcpts, const char *trace)
{
	ptls_findings fs = {NULL, 0, 0};
	ptls_decision d;
	pn_actions *a = pn_actions_new();
	char *out = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&out, &len);
	char *copy;

	ptls_decide(s, PTLS_STAGE_MAIL, from, f, &d);
	ptls_findings_add(&fs, &d);
	ptls_decision_clear(&d);
	for (i = 0; rcpts[i]; i++) {
		ptls_decide(s, PTLS_STAGE_RCPT, rcpts[i], f, &d);
		ptls_findings_add(&fs, &d);
		ptls_decision_clear(&d);
	}
	ptls_findings_eom(&fs, f, trace, "X-Postern-TLS-Policy", a);
	pn_actions_print(a, fp);
	fclose(fp);
	pn_actions_free(a);
	ptls_findings_free(&fs);
	copy = pn_strdup(out);
	free(out);
	return copy;
}

/* test_end_of_message - hold becomes a quarantine, tag a header, plus the trace header */
static void test_end_of_message(void **state)
{
	ptls_policy_set *s = *state;
	const ptls_facts t12 = {T12, NULL, NULL, NULL, "127.0.0.1"};
	const ptls_facts bad_subject = {T13, "evil.example", "CA", NULL, NULL};
	const ptls_facts plain = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	const char *r1[] = {"<b@supplier.example>", "<c@supplier.example>", "<d@other.example>", NULL};
	const char *r2[] = {"<x@other.example>", NULL};
	char *got;

	got = eom_output(s, &t12, "<a@partner.example>", r1, "X-Postern-TLS");
	assert_string_equal(got,
		"quarantine postern-tls: mail to supplier.example requires TLSv1.3 or later; seen "
		"TLSv1.2 (policy tls_policy:4)\n"
		"insert_header 0 X-Postern-TLS: version=TLSv1.2; cipher=ECDHE-RSA-AES256-GCM-SHA384; "
		"bits=256; verified=no; policy=from partner.example (partner.example:1 pass), "
		"to supplier.example (supplier.example:4 hold), to supplier.example "
		"(supplier.example:4 hold)\n"
		"verdict continue\n");
	pn_free(got);

	got = eom_output(s, &bad_subject, "<s@subj.example>", r2, "");
	assert_string_equal(got,
		"add_header X-Postern-TLS-Policy: mail from subj.example requires client certificate "
		"subject *.subj.example; seen subject evil.example (policy tls_policy:6)\n"
		"verdict continue\n");
	pn_free(got);

	got = eom_output(s, &plain, "<x@other.example>", r2, "X-Postern-TLS");
	assert_string_equal(got, "insert_header 0 X-Postern-TLS: version=none; verified=no; "
			    "policy=none\nverdict continue\n");
	pn_free(got);

	/* action=log: logged by the daemon, nothing changes in the message */
	got = eom_output(s, &t12, "<a@logged.example>", r2, "");
	assert_string_equal(got, "verdict continue\n");
	pn_free(got);
}

/* test_log_lines - what the daemon logs for pass, refusal and no policy */
static void test_log_lines(void **state)
{
	ptls_policy_set *s = *state;
	const ptls_facts t12 = {T12, NULL, NULL, NULL, "192.0.2.7"};
	const ptls_facts plain = {NULL, NULL, NULL, NULL, NULL, NULL, "192.0.2.7"};
	ptls_decision d;
	char *line;

	ptls_decide(s, PTLS_STAGE_MAIL, "<a@partner.example>", &t12, &d);
	line = ptls_decision_log(&d, &t12);
	assert_string_equal(line, "tls: pass from=<a@partner.example> domain=partner.example "
			    "policy=tls_policy:1 (partner.example) client=192.0.2.7 seen=\"TLSv1.2, "
			    "cipher ECDHE-RSA-AES256-GCM-SHA384, 256 bits, no verified client "
			    "certificate\"");
	pn_free(line);
	ptls_decision_clear(&d);

	ptls_decide(s, PTLS_STAGE_RCPT, "<b@supplier.example>", &plain, &d);
	line = ptls_decision_log(&d, &plain);
	assert_string_equal(line, "tls: hold to=<b@supplier.example> domain=supplier.example "
			    "policy=tls_policy:4 (supplier.example) client=192.0.2.7 "
			    "required=\"TLS, TLSv1.3 or later\" seen=\"no TLS\"");
	pn_free(line);
	ptls_decision_clear(&d);

	ptls_decide(s, PTLS_STAGE_RCPT, "<b@nowhere.example>", &plain, &d);
	line = ptls_decision_log(&d, &plain);
	assert_string_equal(line, "tls: none to=<b@nowhere.example> domain=nowhere.example: no "
			    "policy");
	pn_free(line);
	ptls_decision_clear(&d);
}

/* test_clean - mail data made safe for replies, headers and logs */
static void test_clean(void **state)
{
	char *s;

	(void)state;
	s = ptls_clean("a\r\nb%c\x7f\xc3\xa9", 100);
	assert_string_equal(s, "a??b?c???");
	pn_free(s);
	s = ptls_clean("abcdef", 3);
	assert_string_equal(s, "abc...");
	pn_free(s);
	s = ptls_clean(NULL, 3);
	assert_string_equal(s, "");
	pn_free(s);
}

/* setup - parse the policy every test uses */
static int setup(void **state)
{
	char *err = NULL;

	*state = ptls_policy_parse(policy_text, strlen(policy_text), "tls_policy", &err);
	if (*state == NULL) {
		fprintf(stderr, "policy: %s\n", t_show(err));
		pn_free(err);
		return -1;
	}
	return 0;
}

/* teardown - free it */
static int teardown(void **state)
{
	ptls_policy_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_end_of_message),
		cmocka_unit_test(test_log_lines),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_unparsable_falls_to_star),
		cmocka_unit_test(test_mta_address_wins),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
