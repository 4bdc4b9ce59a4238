/* SPDX-License-Identifier: BSD-2-Clause */
/* test_domain - one normalised form for domains: case, trailing dot, IDNA 2008 / UTS #46 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/domain.h"

/* Inputs and the one form each must come out as (NULL: not a domain). */
static const struct norm_case {
	const char *in, *out;
} cases[] = {
	{ "partner.example", "partner.example" },
	{ "PARTNER.Example.", "partner.example" },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example" },
	{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },	/* bücher */
	{ "B\xc3\x9c" "CHER.example.", "xn--bcher-kva.example" },	/* BÜCHER */
	{ "cafe\xcc\x81.example", "xn--caf-dma.example" },		/* NFD é */
	{ "caf\xc3\xa9.example", "xn--caf-dma.example" },		/* NFC é */
	{ "\xef\xbd\x90\xef\xbd\x81rtner.example", "partner.example" },	/* full-width pa */
	{ "partner\xe3\x80\x82" "example", "partner.example" },	/* ideographic stop */
	{ "fa\xc3\x9f.example", "xn--fa-hia.example" },		/* non-transitional ß */
	{ "mail_relay.example", "mail_relay.example" },		/* "_" occurs in DNS */
	{ "[192.0.2.1]", "[192.0.2.1]" },
	{ "[IPv6:2001:DB8::1]", "[ipv6:2001:db8::1]" },
	{ "", NULL },
	{ ".", NULL },
	{ "a..example", NULL },
	{ ".example", NULL },
	{ "a.example..", NULL },
	{ "a example", NULL },
	{ "a\texample", NULL },
	{ "\xff.example", NULL },			/* not UTF-8 */
	{ "bad\xf0\x9f\x92\xa9.example", NULL },	/* emoji: not IDNA 2008 */
	{ "[192.0.2.1", NULL },
	{ "a#b.example", NULL },
	{ "\xef\xbb\xbf#", NULL },				/* BOM maps to nothing */
	{ "\xc2\xad[", NULL },				/* soft hyphen too */
	{ "a%b.example", NULL },
	{ "[a]b]", NULL },
};

/* normalises - each case */
static void normalises(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = pn_domain_normalise(cases[i].in);
		int ok = got == NULL ? cases[i].out == NULL
				     : cases[i].out != NULL && strcmp(got, cases[i].out) == 0;
		if (!ok) {
			fprintf(stderr, "case %zu: got %s, want %s\n", i, got ? got : "(null)",
				cases[i].out ? cases[i].out : "(null)");
			bad++;
		}
		pn_free(got);
	}
	assert_int_equal(bad, 0);
}

/* bounded_input - a prefix, NULL, and an absurdly long name */
static void bounded_input(void **state)
{
	char *got, big[2048];

	(void)state;
	got = pn_domain_normalise_n("partner.example.trailing", 15);
	assert_string_equal(got, "partner.example");
	pn_free(got);
	assert_null(pn_domain_normalise(NULL));
	assert_null(pn_domain_normalise_n("a\0b.example", 11));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(pn_domain_normalise(big));
}

/* idempotent - the one form normalises to itself */
static void idempotent(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *again;
		if (cases[i].out == NULL)
			continue;
		again = pn_domain_normalise(cases[i].out);
		assert_non_null(again);
		assert_string_equal(again, cases[i].out);
		pn_free(again);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalises),
		cmocka_unit_test(bounded_input),
		cmocka_unit_test(idempotent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
