/* SPDX-License-Identifier: BSD-2-Clause */
/* test_domain_map - exact and parent-domain matching, duplicates, growth */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/domain_map.h"
#include "tests/unit/testlib.h"

/* Keys and the values (their own names) the lookup table expects. */
static const struct add_case {
	const char *key, *value;
	int rc;
} add_cases[] = {
	{ "example.com", "exact", 0 },
	{ ".example.com", "sub", 0 },
	{ "deep.sub.example.com", "deep", 0 },
	{ ".org", "org", 0 },
	{ "Mixed.Case.NET.", "mixed", 0 },
	{ "[192.0.2.1]", "literal", 0 },
	{ "example.com", "dup", -1 },
	{ "EXAMPLE.com.", "dup-case", -1 },
	{ ".Example.COM", "dup-sub", -1 },
	{ "mixed.case.net", "dup-dot", -1 },
	{ "", "empty", -2 },
	{ ".", "dot", -2 },
	{ "..", "dots", -2 },
	{ "a..b", "empty-label", -2 },
	{ "..example.com", "leading", -2 },
	{ "a b.com", "space", -2 },
	{ "a\tb.com", "tab", -2 },
	/* IDN keys are stored as A-labels: the U-label is the same key */
	{ "b\xc3\xbc" "cher.example", "idn", 0 },
	{ "XN--BCHER-KVA.example", "dup-idn", -1 },
	{ ".xn--caf-dma.example", "idn-sub", 0 },
	{ ".CAF\xc3\x89.example", "dup-idn-sub", -1 },
	{ "\xff.example", "not-utf8", -2 },
};

static const struct lookup_case {
	const char *domain;
	const char *want, *key;	/* want NULL: the default */
} lookup_cases[] = {
	{ "example.com", "exact", "example.com" },
	{ "EXAMPLE.Com.", "exact", "example.com" },
	{ "a.example.com", "sub", ".example.com" },
	{ "x.y.example.com", "sub", ".example.com" },
	{ "X.Y.Example.COM.", "sub", ".example.com" },
	{ "deep.sub.example.com", "deep", "deep.sub.example.com" },
	{ "x.deep.sub.example.com", "sub", ".example.com" },
	{ "sub.example.com", "sub", ".example.com" },
	{ "example.org", "org", ".org" },
	{ "a.b.c.example.org", "org", ".org" },
	{ "org", NULL, NULL },
	{ "mixed.case.net", "mixed", "mixed.case.net" },
	{ "x.mixed.case.net", NULL, NULL },
	{ "[192.0.2.1]", "literal", "[192.0.2.1]" },
	{ "notexample.com", NULL, NULL },
	{ "example.com.evil", NULL, NULL },
	{ "com", NULL, NULL },
	{ "", NULL, NULL },
	{ ".", NULL, NULL },
	{ ".example.com", NULL, NULL },
	{ "example.com..", NULL, NULL },
	{ "xn--bcher-kva.example", "idn", "xn--bcher-kva.example" },
	{ "B\xc3\x9c" "CHER.example.", "idn", "xn--bcher-kva.example" },
	{ "mx.caf\xc3\xa9.example", "idn-sub", ".xn--caf-dma.example" },
	{ "mx.cafe\xcc\x81.example", "idn-sub", ".xn--caf-dma.example" },
	{ "caf\xc3\xa9.example", NULL, NULL },
	{ "\xff.example", NULL, NULL },
};

/* build - the map of add_cases, checking each result */
static pn_domain_map *build(size_t *bad)
{
	pn_domain_map *m = pn_domain_map_new();
	size_t i;

	for (i = 0; i < sizeof(add_cases) / sizeof(add_cases[0]); i++) {
		const struct add_case *c = &add_cases[i];
		int rc = pn_domain_map_add(m, c->key, (void *)c->value);
		if (rc != c->rc) {
			print_error("add \"%s\": got %d, want %d\n", c->key, rc, c->rc);
			(*bad)++;
		}
	}
	return m;
}

/* run_lookups - every lookup_case against m, NULL results meaning def */
static void run_lookups(const pn_domain_map *m, const char *def, size_t *bad)
{
	size_t i;

	for (i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]); i++) {
		const struct lookup_case *c = &lookup_cases[i];
		const char *key = "unset";
		const char *got = pn_domain_map_lookup(m, c->domain, &key);
		const char *want = c->want ? c->want : def;

		if (!t_str_eq(got, want) || !t_str_eq(key, c->key)) {
			print_error("lookup \"%s\": got %s (key %s), want %s (key %s)\n",
				    c->domain, t_show(got), t_show(key), t_show(want), t_show(c->key));
			(*bad)++;
		}
		if (pn_domain_map_lookup(m, c->domain, NULL) != (void *)got) {
			print_error("lookup \"%s\" without matched_key: got a different value\n",
				    c->domain);
			(*bad)++;
		}
	}
}

static void matches_like_postfix(void **state)
{
	size_t bad = 0;
	pn_domain_map *m;
	(void)state;
	m = build(&bad);
	assert_int_equal(pn_domain_map_count(m), 8);
	run_lookups(m, NULL, &bad);
	pn_domain_map_set_default(m, (void *)"default");
	run_lookups(m, "default", &bad);
	pn_domain_map_free(m, NULL);
	if (bad)
		fail_msg("%zu domain map case(s) failed", bad);
}

static size_t freed;

/* count_free - free_value that counts its calls */
static void count_free(void *p)
{
	freed++;
	pn_free(p);
}

static void grows_and_frees_values(void **state)
{
	pn_domain_map *m = pn_domain_map_new();
	size_t i, n = 5000;
	(void)state;
	for (i = 0; i < n; i++) {
		char *key = pn_asprintf("%sh%zu.example", i % 2 ? "." : "", i);
		assert_int_equal(pn_domain_map_add(m, key, pn_asprintf("%zu", i)), 0);
		pn_free(key);
	}
	pn_domain_map_set_default(m, pn_strdup("default"));
	assert_int_equal(pn_domain_map_count(m), n);
	for (i = 0; i < n; i++) {
		char *dom = pn_asprintf("%sH%zu.Example", i % 2 ? "x." : "", i);
		char *want = pn_asprintf("%zu", i);
		const char *got = pn_domain_map_lookup(m, dom, NULL);
		if (got == NULL || strcmp(got, want) != 0)
			fail_msg("lookup %s: got %s, want %s", dom, t_show(got), want);
		pn_free(dom);
		pn_free(want);
	}
	assert_string_equal(pn_domain_map_lookup(m, "h1.example", NULL), "default");
	freed = 0;
	pn_domain_map_free(m, count_free);
	assert_int_equal(freed, n + 1);
	pn_domain_map_free(NULL, count_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_like_postfix),
		cmocka_unit_test(grows_and_frees_values),
	};
	return cmocka_run_group_tests_name("domain_map", tests, NULL, NULL);
}
