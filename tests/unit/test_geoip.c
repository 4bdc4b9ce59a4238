/* SPDX-License-Identifier: BSD-2-Clause */
/* test_geoip - MaxMind DB lookups against databases written at test time */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/geoip.h"
#include "tests/unit/testlib.h"

/* Every file the fixture creates, so teardown can remove exactly those. */
enum { DB_COUNTRY, DB_ASN, DB_COUNTRY4, DB_ASN_EXTRA, DB_GARBAGE, DB_EMPTY,
       DB_BADTREE, DB_MISSING, DB_COUNT };

typedef struct fixture {
	const char *dir;
	char *path[DB_COUNT];
	pn_geoip *both;
} fixture;

/* Default data of tests/lib/make_mmdb.pl; keep the two in step. */
typedef struct lookup_case {
	const char *ip;
	int rc;
	const char *country;
	unsigned long asn;
	const char *org;
} lookup_case;

static const lookup_case both_cases[] = {
	{ "192.0.2.7", 1, "DE", 64500, "Example Transit AS" },
	{ "192.0.2.255", 1, "DE", 64500, "Example Transit AS" },
	{ "198.51.100.20", 1, "US", 0, NULL },		/* registered_country only */
	{ "203.0.113.5", 1, "JP", 64502, NULL },	/* country beats registered */
	{ "2001:db8::1", 1, "FR", 64501, "Example v6 Networks" },
	{ "2001:DB8:ffff::25", 1, "FR", 64501, "Example v6 Networks" },
	{ "::ffff:192.0.2.9", 1, "DE", 64500, "Example Transit AS" },
	{ "IPv6:2001:db8::1", 1, "FR", 64501, "Example v6 Networks" },
	{ "ipv6:2001:db8:1::2", 1, "FR", 64501, "Example v6 Networks" },
	{ "IPv6:::ffff:203.0.113.1", 1, "JP", 64502, NULL },
	{ "10.1.2.3", 0, "", 0, NULL },			/* private */
	{ "127.0.0.1", 0, "", 0, NULL },
	{ "192.0.3.1", 0, "", 0, NULL },		/* just past a range */
	{ "2001:db9::1", 0, "", 0, NULL },
	{ "::1", 0, "", 0, NULL },
	{ "192.0.2.300", -1, "", 0, NULL },
	{ "not-an-address", -1, "", 0, NULL },
	{ "", -1, "", 0, NULL },
	{ " 192.0.2.7", -1, "", 0, NULL },
	{ "IPv6:192.0.2.7", -1, "", 0, NULL },		/* the prefix promises IPv6 */
	{ "[192.0.2.7]", -1, "", 0, NULL },
	{ "2001:db8::1%eth0", -1, "", 0, NULL },
};

/* check_geo - compare one answer; NULL if equal, else what differs */
static char *check_geo(const lookup_case *c, int rc, const pn_geo *g)
{
	const char *org = g->as_org ? g->as_org : "(null)";
	const char *want_org = c->org ? c->org : "(null)";

	if (rc != c->rc)
		return pn_asprintf("%s: rc got %d, want %d", c->ip, rc, c->rc);
	if (strcmp(g->country, c->country) != 0)
		return pn_asprintf("%s: country got \"%s\", want \"%s\"", c->ip, g->country,
				   c->country);
	if (g->asn != c->asn)
		return pn_asprintf("%s: asn got %lu, want %lu", c->ip, g->asn, c->asn);
	if (strcmp(org, want_org) != 0)
		return pn_asprintf("%s: as_org got \"%s\", want \"%s\"", c->ip, org, want_org);
	return NULL;
}

/* run_cases - look up a table and fail on the first wrong answer */
static void run_cases(const pn_geoip *g, const lookup_case *cases, size_t n)
{
	size_t i;
	pn_geo geo;
	char *err;
	char *diff;
	int rc;

	for (i = 0; i < n; i++) {
		rc = pn_geoip_lookup(g, cases[i].ip, &geo, &err);
		diff = check_geo(&cases[i], rc, &geo);
		if (diff == NULL && (rc < 0) != (err != NULL))
			diff = pn_asprintf("%s: err got \"%s\", want %s", cases[i].ip,
					   err ? err : "(null)", rc < 0 ? "a message" : "NULL");
		pn_geo_clear(&geo);
		pn_geo_clear(&geo);	/* must be idempotent */
		pn_free(err);
		if (diff != NULL) {
			print_error("%s\n", diff);
			pn_free(diff);
			fail();
		}
	}
}

/* make_db - run make_mmdb.pl with argv (no shell, so no quoting trouble) */
static int make_db(const char *top, const char *const *args)
{
	const char *argv[16];
	size_t n = 0;
	pid_t pid;
	int status;

	argv[n++] = "perl";
	argv[n++] = pn_asprintf("%s/tests/lib/make_mmdb.pl", top);
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		execvp("perl", (char *const *)argv);
		_exit(127);
	}
	pn_free((void *)argv[1]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* copy_with_broken_tree - a valid file whose search tree points nowhere */
static int copy_with_broken_tree(const char *from, const char *to)
{
	FILE *f = fopen(from, "rb");
	char buf[65536];
	size_t len;

	if (f == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len < 64 || len == sizeof(buf))
		return -1;
	/* Metadata sits at the end and stays valid, so open() succeeds. */
	memset(buf, 0xff, 21);
	return t_write_file(to, buf, len);
}

static int setup(void **state)
{
	static const char garbage[] = "this is not a MaxMind database\n\xab\xcd\xef";
	const char *top = getenv("POSTERN_TOP");
	static const char *const names[DB_COUNT] = {
		"country.mmdb", "asn.mmdb", "country4.mmdb", "asn-extra.mmdb",
		"garbage.mmdb", "empty.mmdb", "badtree.mmdb", "missing.mmdb",
	};
	fixture *fx = pn_calloc(1, sizeof(*fx));
	char *err = NULL;
	int i;

	*state = fx;
	if (top == NULL)
		top = ".";
	fx->dir = t_tmpdir("test_geoip");
	for (i = 0; i < DB_COUNT; i++)
		fx->path[i] = pn_asprintf("%s/%s", fx->dir, names[i]);
	{
		const char *c[] = { "country", fx->path[DB_COUNTRY], NULL };
		const char *a[] = { "asn", fx->path[DB_ASN], NULL };
		const char *c4[] = { "--ipv4", "country", fx->path[DB_COUNTRY4], NULL };
		const char *ax[] = { "--no-defaults", "asn", fx->path[DB_ASN_EXTRA],
				     "198.51.100.0/25=64503:Evil\r\nBcc: victim@example.org",
				     "198.51.100.128/25=4200000000:Ex\xc3\xa4mple 32-bit",
				     NULL };
		if (make_db(top, c) < 0 || make_db(top, a) < 0 || make_db(top, c4) < 0
		    || make_db(top, ax) < 0) {
			print_error("perl %s/tests/lib/make_mmdb.pl failed\n", top);
			return -1;
		}
	}
	if (t_write_file(fx->path[DB_GARBAGE], garbage, sizeof(garbage) - 1) < 0
	    || t_write_file(fx->path[DB_EMPTY], "", 0) < 0
	    || copy_with_broken_tree(fx->path[DB_COUNTRY], fx->path[DB_BADTREE]) < 0) {
		print_error("cannot write test files in %s\n", fx->dir);
		return -1;
	}
	fx->both = pn_geoip_open(fx->path[DB_COUNTRY], fx->path[DB_ASN], &err);
	if (fx->both == NULL) {
		print_error("pn_geoip_open: got \"%s\", want success\n", err);
		pn_free(err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	int i;

	pn_geoip_free(fx->both);
	for (i = 0; i < DB_COUNT; i++)
		pn_free(fx->path[i]);
	pn_free(fx);
	return 0;
}

static void looks_up_both_databases(void **state)
{
	fixture *fx = *state;
	run_cases(fx->both, both_cases, sizeof(both_cases) / sizeof(both_cases[0]));
}

static void reports_malformed_address(void **state)
{
	fixture *fx = *state;
	pn_geo geo;
	char *err = NULL;

	assert_int_equal(pn_geoip_lookup(fx->both, "192.0.2.300", &geo, &err), -1);
	assert_non_null(err);
	if (strstr(err, "192.0.2.300") == NULL)
		fail_msg("err got \"%s\", want it to name the address", err);
	pn_free(err);
	assert_string_equal(geo.country, "");
	assert_null(geo.as_org);
	/* err is optional */
	assert_int_equal(pn_geoip_lookup(fx->both, "bogus", &geo, NULL), -1);
	pn_geo_clear(&geo);
}

static void null_handle_or_address_finds_nothing(void **state)
{
	fixture *fx = *state;
	pn_geo geo;
	char *err = (char *)"untouched";

	assert_int_equal(pn_geoip_lookup(NULL, "192.0.2.7", &geo, &err), 0);
	assert_null(err);
	assert_int_equal(pn_geoip_lookup(fx->both, NULL, &geo, &err), 0);
	assert_null(err);
	assert_string_equal(geo.country, "");
	pn_geo_clear(&geo);
	pn_geoip_free(NULL);
}

/* A table of open() calls: which paths, and what the result must be. */
enum { OPEN_NULL = -1, OPEN_EMPTY = -2, OPEN_DIR = -3 };

typedef struct open_case {
	const char *name;
	int country, asn;	/* DB_* index, or one of the OPEN_* below */
	const char *want[3];	/* substrings of the error; want[0] NULL = success */
} open_case;

/* open_path - the argument an open_case means */
static const char *open_path(const fixture *fx, int which)
{
	switch (which) {
	case OPEN_NULL:
		return NULL;
	case OPEN_EMPTY:
		return "";
	case OPEN_DIR:
		return fx->dir;
	default:
		return fx->path[which];
	}
}

static void open_reports_errors(void **state)
{
	static const open_case cases[] = {
		{ "no databases", OPEN_NULL, OPEN_NULL, { NULL } },
		{ "empty paths", OPEN_EMPTY, OPEN_EMPTY, { NULL } },
		{ "only asn", OPEN_NULL, DB_ASN, { NULL } },
		{ "only country", DB_COUNTRY, OPEN_EMPTY, { NULL } },
		{ "broken tree opens", DB_BADTREE, OPEN_NULL, { NULL } },
		{ "missing country", DB_MISSING, DB_ASN,
		  { "country database", "missing.mmdb", "No such file or directory" } },
		{ "missing asn", DB_COUNTRY, DB_MISSING,
		  { "ASN database", "missing.mmdb", "No such file or directory" } },
		{ "garbage country", DB_GARBAGE, OPEN_NULL,
		  { "country database", "garbage.mmdb", "invalid metadata" } },
		{ "garbage asn", DB_COUNTRY, DB_GARBAGE,
		  { "ASN database", "garbage.mmdb", "invalid metadata" } },
		{ "empty file", DB_EMPTY, OPEN_NULL, { "country database", "empty.mmdb", NULL } },
		{ "directory", DB_COUNTRY, OPEN_DIR, { "ASN database", "not a regular file", NULL } },
	};
	fixture *fx = *state;
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const open_case *c = &cases[i];
		const char *cp = open_path(fx, c->country);
		const char *ap = open_path(fx, c->asn);
		char *err = (char *)"untouched";
		pn_geoip *g = pn_geoip_open(cp, ap, &err);

		if (c->want[0] == NULL) {
			if (g == NULL)
				fail_msg("%s: got error \"%s\", want success", c->name, err);
			if (err != NULL)
				fail_msg("%s: err got \"%s\", want NULL", c->name, err);
			pn_geoip_free(g);
			continue;
		}
		if (g != NULL)
			fail_msg("%s: got a handle, want an error", c->name);
		if (err == NULL)
			fail_msg("%s: err got NULL, want a message", c->name);
		for (j = 0; j < 3 && c->want[j] != NULL; j++)
			if (strstr(err, c->want[j]) == NULL)
				fail_msg("%s: err got \"%s\", want it to contain \"%s\"", c->name, err,
					 c->want[j]);
		pn_free(err);
		/* err is optional */
		assert_null(pn_geoip_open(cp, ap, NULL));
	}
}

static void only_asn_database(void **state)
{
	static const lookup_case cases[] = {
		{ "192.0.2.7", 1, "", 64500, "Example Transit AS" },
		{ "198.51.100.20", 0, "", 0, NULL },
		{ "IPv6:2001:db8::1", 1, "", 64501, "Example v6 Networks" },
		{ "10.0.0.1", 0, "", 0, NULL },
		{ "nonsense", -1, "", 0, NULL },
	};
	fixture *fx = *state;
	char *err = NULL;
	pn_geoip *g = pn_geoip_open(NULL, fx->path[DB_ASN], &err);

	if (g == NULL)
		fail_msg("open: got \"%s\", want success", err);
	run_cases(g, cases, sizeof(cases) / sizeof(cases[0]));
	pn_geoip_free(g);
}

static void only_country_database(void **state)
{
	static const lookup_case cases[] = {
		{ "192.0.2.7", 1, "DE", 0, NULL },
		{ "198.51.100.20", 1, "US", 0, NULL },
		{ "2001:db8::1", 1, "FR", 0, NULL },
		{ "10.0.0.1", 0, "", 0, NULL },
	};
	fixture *fx = *state;
	char *err = NULL;
	pn_geoip *g = pn_geoip_open(fx->path[DB_COUNTRY], "", &err);

	if (g == NULL)
		fail_msg("open: got \"%s\", want success", err);
	run_cases(g, cases, sizeof(cases) / sizeof(cases[0]));
	pn_geoip_free(g);
}

static void no_database_finds_nothing(void **state)
{
	static const lookup_case cases[] = {
		{ "192.0.2.7", 0, "", 0, NULL },
		{ "2001:db8::1", 0, "", 0, NULL },
		{ "nonsense", -1, "", 0, NULL },
	};
	pn_geoip *g = pn_geoip_open(NULL, NULL, NULL);

	(void)state;
	assert_non_null(g);
	run_cases(g, cases, sizeof(cases) / sizeof(cases[0]));
	pn_geoip_free(g);
}

static void ipv4_only_database(void **state)
{
	static const lookup_case cases[] = {
		{ "192.0.2.7", 1, "DE", 0, NULL },
		{ "::ffff:192.0.2.9", 1, "DE", 0, NULL },	/* looked up as IPv4 */
		{ "203.0.113.200", 1, "JP", 0, NULL },
		{ "2001:db8::1", 0, "", 0, NULL },		/* not an error */
		{ "IPv6:2001:db8::1", 0, "", 0, NULL },
	};
	fixture *fx = *state;
	char *err = NULL;
	pn_geoip *g = pn_geoip_open(fx->path[DB_COUNTRY4], NULL, &err);

	if (g == NULL)
		fail_msg("open: got \"%s\", want success", err);
	run_cases(g, cases, sizeof(cases) / sizeof(cases[0]));
	pn_geoip_free(g);
}

static void as_org_is_made_safe(void **state)
{
	static const lookup_case cases[] = {
		{ "198.51.100.1", 1, "", 64503, "Evil  Bcc: victim@example.org" },
		{ "198.51.100.200", 1, "", 4200000000UL, "Ex\xc3\xa4mple 32-bit" },
		{ "192.0.2.7", 0, "", 0, NULL },	/* --no-defaults */
	};
	fixture *fx = *state;
	char *err = NULL;
	pn_geoip *g = pn_geoip_open(NULL, fx->path[DB_ASN_EXTRA], &err);

	if (g == NULL)
		fail_msg("open: got \"%s\", want success", err);
	run_cases(g, cases, sizeof(cases) / sizeof(cases[0]));
	pn_geoip_free(g);
}

static void corrupt_tree_is_a_lookup_error(void **state)
{
	fixture *fx = *state;
	char *err = NULL;
	pn_geo geo;
	pn_geoip *g = pn_geoip_open(fx->path[DB_BADTREE], fx->path[DB_ASN], &err);
	int rc;

	if (g == NULL)
		fail_msg("open: got \"%s\", want success", err);
	rc = pn_geoip_lookup(g, "192.0.2.7", &geo, &err);
	if (rc != -1)
		fail_msg("rc got %d, want -1", rc);
	if (err == NULL || strstr(err, "badtree.mmdb") == NULL || strstr(err, "corrupt") == NULL)
		fail_msg("err got \"%s\", want path and \"corrupt\"", err ? err : "(null)");
	/* The ASN half was fine, but a failed lookup returns nothing at all. */
	if (geo.asn != 0 || geo.as_org != NULL || geo.country[0] != '\0')
		fail_msg("geo got asn %lu, want empty", geo.asn);
	pn_free(err);
	pn_geo_clear(&geo);
	pn_geoip_free(g);
}

/* Concurrent lookups: each thread checks every answer and counts mistakes. */
#define THREADS 4
#define ROUNDS 300

typedef struct worker {
	const pn_geoip *g;
	pthread_t tid;
	int mistakes;
	char *first;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	size_t n = sizeof(both_cases) / sizeof(both_cases[0]);
	size_t r, i;
	pn_geo geo;
	char *err;
	char *diff;
	int rc;

	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < n; i++) {
			rc = pn_geoip_lookup(w->g, both_cases[i].ip, &geo, &err);
			diff = check_geo(&both_cases[i], rc, &geo);
			pn_geo_clear(&geo);
			pn_free(err);
			if (diff == NULL)
				continue;
			w->mistakes++;
			if (w->first == NULL)
				w->first = diff;
			else
				pn_free(diff);
		}
	}
	return NULL;
}

static void concurrent_lookups_agree(void **state)
{
	fixture *fx = *state;
	worker w[THREADS];
	int i, rc;

	memset(w, 0, sizeof(w));
	for (i = 0; i < THREADS; i++) {
		w[i].g = fx->both;
		rc = pthread_create(&w[i].tid, NULL, work, &w[i]);
		if (rc != 0)
			fail_msg("pthread_create: got %s, want success", strerror(rc));
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
	for (i = 0; i < THREADS; i++) {
		if (w[i].mistakes != 0) {
			print_error("thread %d: %s\n", i, w[i].first);
			fail_msg("thread %d: mistakes got %d, want 0", i, w[i].mistakes);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(looks_up_both_databases),
		cmocka_unit_test(reports_malformed_address),
		cmocka_unit_test(null_handle_or_address_finds_nothing),
		cmocka_unit_test(open_reports_errors),
		cmocka_unit_test(only_asn_database),
		cmocka_unit_test(only_country_database),
		cmocka_unit_test(no_database_finds_nothing),
		cmocka_unit_test(ipv4_only_database),
		cmocka_unit_test(as_org_is_made_safe),
		cmocka_unit_test(corrupt_tree_is_a_lookup_error),
		cmocka_unit_test(concurrent_lookups_agree),
	};
	return cmocka_run_group_tests_name("geoip", tests, setup, teardown);
}
