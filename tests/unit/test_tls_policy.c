/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tls_policy - the postern-tls policy parser: attributes, errors, lookups */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/tls/policy.h"
#include "tests/unit/testlib.h"

/* parse - a policy from a C string */
static ptls_policy_set *parse(const char *text, char **err)
{
	return ptls_policy_parse(text, strlen(text), "tls_policy", err);
}

/* One valid line and the fields it must produce. */
static const struct good_case {
	const char *text;
	const char *key;
	int tls_required, min_version, min_bits, verify;
	unsigned direction;
	ptls_action action;
	int outbound;
	const char *ciphers, *subject, *issuer, *clients, *match;
} good[] = {
	{"partner.example min_version=TLSv1.2 min_bits=128",
	 "partner.example", 1, 0x303, 128, 0, PTLS_DIR_INBOUND, PTLS_ACT_REJECT, 0,
	 NULL, NULL, NULL, NULL, NULL},
	{".Bank.Example.  verify=yes cert_issuer=\"Bank Issuing CA\" "
	 "clients=192.0.2.0/24,2001:db8::/32 action=reject outbound=secure",
	 ".bank.example", 1, 0, 0, 1, PTLS_DIR_INBOUND, PTLS_ACT_REJECT, PTLS_LEVEL_SECURE,
	 NULL, NULL, "Bank Issuing CA", "192.0.2.0/24,2001:db8::/32", NULL},
	{"supplier.example\tmin_version=tlsv1.3 direction=both action=hold",
	 "supplier.example", 1, 0x304, 0, 0, PTLS_DIR_BOTH, PTLS_ACT_HOLD, 0,
	 NULL, NULL, NULL, NULL, NULL},
	{"a.example cert_subject=\"*.a.example|mx.a.example\" action=tempfail",
	 "a.example", 1, 0, 0, 1, PTLS_DIR_INBOUND, PTLS_ACT_TEMPFAIL, 0,
	 NULL, "*.a.example|mx.a.example", NULL, NULL, NULL},
	{"b.example ciphers=ECDHE-*:!*CBC*,TLS_AES_* direction=outbound action=tag",
	 "b.example", 1, 0, 0, 0, PTLS_DIR_OUTBOUND, PTLS_ACT_TAG, 0,
	 "ECDHE-*:!*CBC*,TLS_AES_*", NULL, NULL, NULL, NULL},
	{"c.example tls=optional action=log", "c.example", 0, 0, 0, 0, PTLS_DIR_INBOUND,
	 PTLS_ACT_LOG, 0, NULL, NULL, NULL, NULL, NULL},
	{"d.example outbound=fingerprint match=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
	 "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
	 "d.example", 1, 0, 0, 0, PTLS_DIR_INBOUND, PTLS_ACT_REJECT, PTLS_LEVEL_FINGERPRINT,
	 NULL, NULL, NULL, NULL,
	 "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
	 "67:89"},
	{"e.example outbound=secure match=nexthop:dot-nexthop:.e.example",
	 "e.example", 1, 0, 0, 0, PTLS_DIR_INBOUND, PTLS_ACT_REJECT, PTLS_LEVEL_SECURE,
	 NULL, NULL, NULL, NULL, "nexthop:dot-nexthop:.e.example"},
	{"* min_version=TLSv1 action=tag # trailing comment", "*", 1, 0x301, 0, 0,
	 PTLS_DIR_INBOUND, PTLS_ACT_TAG, 0, NULL, NULL, NULL, NULL, NULL},
	{"f.example\n  # comment inside\n\n  min_version=TLSv1.1\n\tverify=no",
	 "f.example", 1, 0x302, 0, 0, PTLS_DIR_INBOUND, PTLS_ACT_REJECT, 0,
	 NULL, NULL, NULL, NULL, NULL},
	{"g.example cert_issuer=\"say \\\"hi\\\" \\\\ CA\"", "g.example", 1, 0, 0, 1,
	 PTLS_DIR_INBOUND, PTLS_ACT_REJECT, 0, NULL, NULL, "say \"hi\" \\ CA", NULL, NULL},
};

/* test_good_lines - every attribute lands in its field */
static void test_good_lines(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *c = &good[i];
		char *err = NULL;
		ptls_policy_set *s = parse(c->text, &err);
		const ptls_policy *p;

		if (s == NULL || s->count != 1) {
			fprintf(stderr, "case %zu %s: got error %s, want one entry\n", i, c->text,
				t_show(err));
			pn_free(err);
			ptls_policy_free(s);
			bad++;
			continue;
		}
		p = s->items[0];
		if (!t_str_eq(p->key, c->key) || p->tls_required != c->tls_required
		    || p->min_version != c->min_version || p->min_bits != c->min_bits
		    || p->verify != c->verify || p->direction != c->direction
		    || p->action != c->action || p->outbound != c->outbound
		    || !t_str_eq(p->ciphers, c->ciphers) || !t_str_eq(p->subject_text, c->subject)
		    || !t_str_eq(p->issuer_text, c->issuer) || !t_str_eq(p->clients_text, c->clients)
		    || !t_str_eq(p->match, c->match) || p->line != 1) {
			fprintf(stderr, "case %zu %s: got key=%s tls=%d ver=%x bits=%d verify=%d dir=%u "
				"action=%d out=%d ciphers=%s subject=%s issuer=%s clients=%s match=%s "
				"line=%u; want key=%s tls=%d ver=%x bits=%d verify=%d dir=%u action=%d "
				"out=%d ciphers=%s subject=%s issuer=%s clients=%s match=%s line=1\n",
				i, c->text, p->key, p->tls_required, p->min_version, p->min_bits,
				p->verify, p->direction, p->action, p->outbound, t_show(p->ciphers),
				t_show(p->subject_text), t_show(p->issuer_text), t_show(p->clients_text),
				t_show(p->match), p->line, c->key, c->tls_required, c->min_version,
				c->min_bits, c->verify, c->direction, c->action, c->outbound,
				t_show(c->ciphers), t_show(c->subject), t_show(c->issuer), t_show(c->clients),
				t_show(c->match));
			bad++;
		}
		ptls_policy_free(s);
	}
	assert_int_equal(bad, 0);
}

/* A bad file and the exact message its first error must give. */
static const struct bad_case {
	const char *text;
	const char *want;
} bad_cases[] = {
	{"a.example min_version=TLSv1.5",
	 "tls_policy:1: attribute \"min_version\" = \"TLSv1.5\": unknown TLS version (want SSLv3, "
	 "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)"},
	{"# c\n\na.example min_bits=0", "tls_policy:3: attribute \"min_bits\" = \"0\": want a number "
	 "of bits from 1 to 65535"},
	{"a.example min_bits=12x", "tls_policy:1: attribute \"min_bits\" = \"12x\": want a number of "
	 "bits from 1 to 65535"},
	{"a.example min_bits=99999999999999999999", "tls_policy:1: attribute \"min_bits\" = "
	 "\"99999999999999999999\": want a number of bits from 1 to 65535"},
	{"a.example colour=blue", "tls_policy:1: unknown attribute \"colour\" (see "
	 "postern-tls.conf(5))"},
	{"a.example min_bits", "tls_policy:1: \"min_bits\": expected attribute=value"},
	{"a.example =x", "tls_policy:1: \"=x\": expected attribute=value"},
	{"a.example min_bits=", "tls_policy:1: attribute \"min_bits\" has an empty value"},
	{"a.example min_bits=1 min_bits=2", "tls_policy:1: attribute \"min_bits\" given twice"},
	{"a.example", "tls_policy:1: \"a.example\" has no attributes (write tls=optional to exempt "
	 "a domain)"},
	{"a.example verify=maybe", "tls_policy:1: attribute \"verify\" = \"maybe\": want yes or no"},
	{"a.example tls=sometimes", "tls_policy:1: attribute \"tls\" = \"sometimes\": want required "
	 "or optional"},
	{"a.example direction=sideways", "tls_policy:1: attribute \"direction\" = \"sideways\": want "
	 "inbound, outbound or both"},
	{"a.example action=bounce", "tls_policy:1: attribute \"action\" = \"bounce\": want reject, "
	 "tempfail, hold, tag or log"},
	{"a.example outbound=paranoid", "tls_policy:1: attribute \"outbound\" = \"paranoid\": not a "
	 "Postfix TLS security level (none, may, encrypt, dane, dane-only, fingerprint, verify, "
	 "secure) or sts"},
	{"a.example clients=192.0.2.1/24", NULL},	/* message from common/cidr */
	{"a.example ciphers=AES::DES", "tls_policy:1: attribute \"ciphers\" = \"AES::DES\": empty "
	 "cipher name in the list"},
	{"a.example ciphers=AES$", "tls_policy:1: attribute \"ciphers\" = \"AES$\": \"AES$\" is not a "
	 "cipher name or pattern (letters, digits, \"-_.+\" and the globs \"*?\")"},
	{"a.example cert_subject=a||b", "tls_policy:1: attribute \"cert_subject\" = \"a||b\": empty "
	 "alternative in the \"|\" list"},
	{"a.example cert_subject=x verify=no", "tls_policy:1: attribute \"verify\" = \"no\": "
	 "cert_subject and cert_issuer are only known for a verified certificate"},
	{"a.example match=nexthop", "tls_policy:1: attribute \"match\" needs outbound=fingerprint, "
	 "verify or secure"},
	{"a.example outbound=fingerprint", "tls_policy:1: attribute \"outbound\" = \"fingerprint\" "
	 "needs match= with the certificate fingerprints"},
	{"a.example outbound=fingerprint match=AB:CD", "tls_policy:1: attribute \"match\" = "
	 "\"AB:CD\": \"AB:CD\" is not a certificate fingerprint (hex byte pairs joined by \":\", "
	 "e.g. the output of openssl x509 -fingerprint -sha256)"},
	{"a.example outbound=secure match=a.example:b,c", "tls_policy:1: attribute \"match\" = "
	 "\"a.example:b,c\": \"b,c\" is neither a domain name nor a strategy (hostname, nexthop, "
	 "dot-nexthop)"},
	{"a.example outbound_ciphers=high", "tls_policy:1: attribute \"outbound_ciphers\" needs "
	 "outbound= or direction=outbound|both"},
	{"a.example outbound=none outbound_exclude=RC4", "tls_policy:1: attribute "
	 "\"outbound_exclude\": outbound=none takes no attributes"},
	{"a.example outbound=may outbound_ciphers=ultra", "tls_policy:1: attribute "
	 "\"outbound_ciphers\" = \"ultra\": not a Postfix cipher grade (high, medium, low, export, "
	 "null)"},
	{"a.example outbound=may outbound_exclude=RC4,MD5", "tls_policy:1: attribute "
	 "\"outbound_exclude\" = \"RC4,MD5\": not a \":\" list of OpenSSL cipher names"},
	{"a.example cert_issuer=\"Bank CA", "tls_policy:1: unterminated \"quoted\" value"},
	{"a.example min_bits=1\nb.example min_bits=2\nA.Example. min_bits=3",
	 "tls_policy:3: \"a.example\" already defined at line 1"},
	{"* min_bits=1\n* min_bits=2", "tls_policy:2: \"*\" already defined at line 1"},
	{"[mx.a.example]:25 min_bits=1", "tls_policy:1: \"[mx.a.example]:25\" is not a domain, "
	 "\".domain\" or \"*\" (Postfix next-hop forms such as [host]:port are not supported)"},
	{"a.example.. min_bits=1", "tls_policy:1: \"a.example..\" is not a domain, \".domain\" or "
	 "\"*\""},
	{"\"\"#x.example min_bits=1", "tls_policy:1: \"#x.example\": a domain key cannot be quoted"},
	{"a..example min_bits=1", "tls_policy:1: \"a..example\" is not a domain, \".domain\" or \"*\""},
	{"  min_bits=1", "tls_policy:1: line starts with white space but continues no entry"},
	/* keys are normalised: a U-label and its A-label are one key */
	{"b\xc3\xbc" "cher.example min_bits=1\nXN--BCHER-KVA.example. min_bits=2",
	 "tls_policy:2: \"xn--bcher-kva.example\" already defined at line 1"},
	{".xn--mller-kva.example min_bits=1\n.M\xc3\x9cLLER.example min_bits=2",
	 "tls_policy:2: \".xn--mller-kva.example\" already defined at line 1"},
	{"a.example min_bits=1\n\xff.example min_bits=2",
	 "tls_policy:2: \"\xff.example\" is not a domain, \".domain\" or \"*\""},
	{"bad\xf0\x9f\x92\xa9.example min_bits=1",
	 "tls_policy:1: \"bad\xf0\x9f\x92\xa9.example\" is not a domain, \".domain\" or \"*\""},
	{"a.example min_bits=1\nb.example\n  min_version=TLSv2", "tls_policy:2: attribute "
	 "\"min_version\" = \"TLSv2\": unknown TLS version (want SSLv3, TLSv1, TLSv1.1, TLSv1.2 or "
	 "TLSv1.3)"},
	{"a.example min_version=SSLv2", "tls_policy:1: attribute \"min_version\" = \"SSLv2\": unknown "
	 "TLS version (want SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)"},
};

/* test_bad_lines - every error names file:line and the attribute */
static void test_bad_lines(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char *err = NULL;
		ptls_policy_set *s = parse(bad_cases[i].text, &err);
		int ok = s == NULL && err != NULL
			 && (bad_cases[i].want ? strcmp(err, bad_cases[i].want) == 0
					       : strncmp(err, "tls_policy:1: attribute \"clients\"", 33) == 0);
		if (!ok) {
			fprintf(stderr, "case %zu %s:\n  got  %s\n  want %s\n", i, bad_cases[i].text,
				s ? "(parsed)" : t_show(err), t_show(bad_cases[i].want));
			bad++;
		}
		ptls_policy_free(s);
		pn_free(err);
	}
	assert_int_equal(bad, 0);
}

/* test_nul_and_crlf - NUL bytes are refused, CRLF and a BOM are fine */
static void test_nul_and_crlf(void **state)
{
	static const char with_nul[] = "a.example min_bits=1\nb.example\0 min_bits=2\n";
	static const char crlf[] = "\xef\xbb\xbf# x\r\na.example min_bits=1\r\n  verify=yes\r\n";
	char *err = NULL;
	ptls_policy_set *s;

	(void)state;
	s = ptls_policy_parse(with_nul, sizeof(with_nul) - 1, "p", &err);
	assert_null(s);
	assert_string_equal(err, "p:2: NUL byte in the file");
	pn_free(err);
	s = ptls_policy_parse(crlf, sizeof(crlf) - 1, "p", &err);
	assert_non_null(s);
	assert_int_equal(s->count, 1);
	assert_int_equal(s->items[0]->min_bits, 1);
	assert_int_equal(s->items[0]->verify, 1);
	assert_int_equal(s->items[0]->line, 2);
	ptls_policy_free(s);
}

/* Domains and the key of the line that must answer (NULL: none). */
static const struct lookup_case {
	const char *domain, *key;
} lookups[] = {
	{"partner.example", "partner.example"},
	{"PARTNER.example.", "partner.example"},
	{"mx.partner.example", "*"},
	{"bank.example", "*"},
	{"x.bank.example", ".bank.example"},
	{"a.b.bank.example", ".bank.example"},
	{"special.bank.example", "special.bank.example"},
	{"other.example", "*"},
	{"", NULL},
	/* U-label keys match A-label mail and the reverse, in any case */
	{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	{"B\xc3\x9c" "CHER.example.", "xn--bcher-kva.example"},
	{"b\xc3\xbc" "cher.example", "xn--bcher-kva.example"},
	{"mx.caf\xc3\xa9.example", ".xn--caf-dma.example"},
	{"mx.XN--CAF-DMA.example", ".xn--caf-dma.example"},
	{"caf\xc3\xa9.example", "*"},
	{"\xff.example", "*"},
};

/* test_lookup - exact, then .parent, then "*"; nothing for no domain */
static void test_lookup(void **state)
{
	const char *text = "partner.example min_bits=1\n.bank.example verify=yes\n"
			   "special.bank.example tls=optional\n* min_version=TLSv1.2\n"
			   "b\xc3\xbc" "cher.example min_bits=1\n.xn--caf-dma.example min_bits=1\n";
	char *err = NULL;
	ptls_policy_set *s = parse(text, &err);
	size_t i, bad = 0;

	(void)state;
	assert_non_null(s);
	assert_int_equal(s->count, 6);
	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		const ptls_policy *p = ptls_policy_lookup(s, lookups[i].domain);
		if (!t_str_eq(p ? p->key : NULL, lookups[i].key)) {
			fprintf(stderr, "lookup %s: got %s, want %s\n", lookups[i].domain,
				p ? p->key : "(none)", t_show(lookups[i].key));
			bad++;
		}
	}
	ptls_policy_free(s);
	assert_int_equal(bad, 0);
}

/* test_helpers - versions, levels, patterns */
static void test_helpers(void **state)
{
	char *pats[] = {"*.bank.example", "Bank Issuing CA", NULL};

	(void)state;
	assert_int_equal(ptls_version_parse("TLSv1"), 0x301);
	assert_int_equal(ptls_version_parse("tlsv1.0"), 0x301);
	assert_int_equal(ptls_version_parse("TLSv1.3"), 0x304);
	assert_int_equal(ptls_version_parse("TLSv9"), 0);
	assert_int_equal(ptls_version_parse(NULL), 0);
	assert_string_equal(ptls_version_name(0x303), "TLSv1.2");
	assert_int_equal(ptls_level_parse("Dane-Only"), PTLS_LEVEL_DANE_ONLY);
	assert_int_equal(ptls_level_parse("strict"), -1);
	assert_string_equal(ptls_level_name(PTLS_LEVEL_SECURE), "secure");
	assert_true(ptls_patterns_match(pats, "mx.BANK.example"));
	assert_true(ptls_patterns_match(pats, "bank issuing ca"));
	assert_false(ptls_patterns_match(pats, "bank.example"));
	assert_false(ptls_patterns_match(pats, NULL));
	assert_true(ptls_patterns_match(NULL, "anything"));
}

/* test_load_file - a file on disk, its identity, and a missing file */
static void test_load_file(void **state)
{
	char *path = pn_asprintf("%s/tls_policy", t_tmpdir("test_tls_policy"));
	const char *text = "a.example min_bits=1\n";
	char *err = NULL;
	ptls_policy_set *s;

	(void)state;
	assert_int_equal(t_write_file(path, text, strlen(text)), 0);
	s = ptls_policy_load(path, &err);
	assert_non_null(s);
	assert_true(s->stamp.ok);
	assert_int_equal(s->stamp.size, (long)strlen(text));
	assert_string_equal(s->items[0]->file, path);
	ptls_policy_free(s);
	unlink(path);
	s = ptls_policy_load(path, &err);
	assert_null(s);
	assert_non_null(strstr(err, "cannot read the TLS policy: No such file or directory"));
	pn_free(err);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_nul_and_crlf),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
