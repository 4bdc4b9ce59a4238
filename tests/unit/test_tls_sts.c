/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tls_sts - MTA-STS text formats: policy file, TXT record, MX patterns, cache file */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "milters/tls/policy.h"
#include "milters/tls/postfix_map.h"
#include "milters/tls/sts.h"

static ptls_sts_policy *parse(const char *text, char **err)
{
	return ptls_sts_policy_parse(text, strlen(text), err);
}

/* test_parse_good - RFC 8461's example, CRLF, blank lines, unknown keys, repeats */
static void test_parse_good(void **state)
{
	char *err = NULL, *ans;
	ptls_sts_policy *p;

	(void)state;
	p = parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
		  "mx: *.Example.NET\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n", &err);
	assert_non_null(p);
	assert_null(err);
	assert_int_equal(p->mode, PTLS_STS_MODE_ENFORCE);
	assert_int_equal(p->max_age, 604800);
	assert_int_equal(p->mx_count, 3);
	assert_string_equal(p->mx[1], "*.example.net");	/* lower-cased */
	ans = ptls_sts_postfix_answer(p);
	assert_string_equal(ans, "secure match=mail.example.com:.example.net:backupmx.example.com "
			    "servername=hostname");
	pn_free(ans);
	ptls_sts_policy_free(p);

	/* first occurrence wins; unknown keys ignored; spaces around; trailing blank */
	p = parse("  version:STSv1  \nmode: testing\nmode: enforce\nfoo: bar\n"
		  "max_age: 9999999999\nmx: mx.example.org\n\n\n", &err);
	assert_non_null(p);
	assert_int_equal(p->mode, PTLS_STS_MODE_TESTING);
	assert_int_equal(p->max_age, PTLS_STS_MAX_AGE_MAX);	/* capped at a year */
	assert_null(ptls_sts_postfix_answer(p));	/* testing: Postfix default */
	ptls_sts_policy_free(p);

	p = parse("version: STSv1\nmode: none\nmax_age: 0", &err);	/* none needs no mx */
	assert_non_null(p);
	assert_int_equal(p->mode, PTLS_STS_MODE_NONE);
	ptls_sts_policy_free(p);
}

/* test_parse_bad - each refused with a reason, never a partial policy */
static void test_parse_bad(void **state)
{
	static const char *bad[] = {
		"",
		"mode: enforce\nmax_age: 1\nmx: a.example\n",			/* no version */
		"version: STSv2\nmode: enforce\nmax_age: 1\nmx: a.example\n",
		"version: STSv1\nmode: Enforce\nmax_age: 1\nmx: a.example\n",	/* case */
		"version: STSv1\nmode: enforce\nmax_age: -1\nmx: a.example\n",
		"version: STSv1\nmode: enforce\nmax_age: 12345678901\nmx: a.example\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\n",			/* no mx */
		"version: STSv1\nmode: enforce\nmx: a.example\n",		/* no max_age */
		"version: STSv1\nmode: enforce\nmax_age: 1\nmx: *\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.*.example\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\nmx: a..example\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\nmx: localhost\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.example\xc3\xa9\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.example\nno colon here\n",
		NULL
	};
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		assert_null(ptls_sts_policy_parse(bad[i], strlen(bad[i]), &err));
		assert_non_null(err);
		pn_free(err);
		err = NULL;
	}
	/* a hostile key never reaches the message */
	assert_null(parse("version: STSv1\n\x1b[31mkey: x\n", &err));
	assert_null(strchr(err, '\x1b'));
	pn_free(err);
	{
		static const char nul[] = "version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.ex\0mple\n";

		assert_null(ptls_sts_policy_parse(nul, sizeof(nul) - 1, &err));
		assert_non_null(strstr(err, "NUL"));
		pn_free(err);
	}
}

/* test_parse_hostile - huge policies and thousands of mx lines are bounded */
static void test_parse_hostile(void **state)
{
	size_t n = PTLS_STS_POLICY_MAX + 1, off;
	char *big = pn_malloc(n + 1), *err = NULL;

	(void)state;
	memset(big, 'x', n);
	big[n] = '\0';
	assert_null(ptls_sts_policy_parse(big, n, &err));
	assert_non_null(strstr(err, "larger"));
	pn_free(err);
	off = (size_t)sprintf(big, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	while (off + 20 < PTLS_STS_POLICY_MAX)
		off += (size_t)sprintf(big + off, "mx: m%zu.example\n", off);
	assert_null(ptls_sts_policy_parse(big, off, &err));
	assert_non_null(strstr(err, "more than"));
	pn_free(err);
	pn_free(big);
}

/* test_mx_match - RFC 8461 4.1: "*." is exactly one label; case and trailing dot */
static void test_mx_match(void **state)
{
	char *err = NULL;
	ptls_sts_policy *p = parse("version: STSv1\nmode: enforce\nmax_age: 86400\n"
				   "mx: mail.example.com\nmx: *.example.net\n", &err);

	(void)state;
	assert_non_null(p);
	assert_true(ptls_sts_mx_match(p, "mail.example.com"));
	assert_true(ptls_sts_mx_match(p, "MAIL.Example.COM."));
	assert_true(ptls_sts_mx_match(p, "mx1.example.net"));
	assert_false(ptls_sts_mx_match(p, "example.net"));
	assert_false(ptls_sts_mx_match(p, "a.b.example.net"));
	assert_false(ptls_sts_mx_match(p, ".example.net"));
	assert_false(ptls_sts_mx_match(p, "mail.example.com.evil.test"));
	assert_false(ptls_sts_mx_match(p, "xmail.example.com"));
	assert_false(ptls_sts_mx_match(p, ""));
	ptls_sts_policy_free(p);
}

/* test_txt - RFC 8461 3.1 records */
static void test_txt(void **state)
{
	char id[PTLS_STS_ID_MAX + 1];

	(void)state;
#define TXT(s) ptls_sts_txt_parse(s, strlen(s), id)
	assert_int_equal(TXT("v=STSv1; id=20160831085700Z;"), 1);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(TXT("v=STSv1;id=abc"), 1);
	assert_string_equal(id, "abc");
	assert_int_equal(TXT("v=STSv1; id=abc; ext=1"), 1);
	assert_int_equal(TXT("v=spf1 -all"), 0);
	assert_int_equal(TXT("v=STSv1"), -1);
	assert_int_equal(TXT("v=STSv1; id="), -1);
	assert_int_equal(TXT("v=STSv1; id=a-b"), -1);
	assert_int_equal(TXT("v=STSv1; id=123456789012345678901234567890123"), -1);
	assert_int_equal(TXT("v=STSv10; id=1"), -1);
#undef TXT
}

/* test_policy_sts - outbound=sts in the static policy, never exported to a file */
static void test_policy_sts(void **state)
{
	const char *text = "partner.example outbound=sts\nother.example outbound=secure\n";
	char *err = NULL;
	ptls_policy_set *s = ptls_policy_parse(text, strlen(text), "tls_policy", &err);

	(void)state;
	assert_non_null(s);
	assert_true(ptls_policy_lookup(s, "partner.example")->sts);
	assert_int_equal(ptls_policy_export_level(ptls_policy_lookup(s, "partner.example")),
			 PTLS_LEVEL_UNSET);
	assert_false(ptls_policy_lookup(s, "other.example")->sts);
	{
		/* the exported file says why the line is missing */
		char *out = NULL;
		size_t outlen = 0;
		FILE *fp = open_memstream(&out, &outlen);

		ptls_postfix_map_write(s, fp);
		fclose(fp);
		assert_non_null(strstr(out, "# partner.example (line 1): outbound=sts: MTA-STS, "
					"answered by the policy socketmap only, not exported"));
		assert_non_null(strstr(out, "\nother.example  secure"));
		free(out);
	}
	ptls_policy_free(s);
	text = "partner.example outbound=sts match=mx.partner.example\n";
	assert_null(ptls_policy_parse(text, strlen(text), "tls_policy", &err));
	assert_non_null(strstr(err, "sts"));
	pn_free(err);
}

/* test_cache_file - policies survive a new instance; damaged lines are dropped */
static void test_cache_file(void **state)
{
	char dir[] = "/tmp/test_tls_sts.XXXXXX", path[64], *why = NULL, *ans = NULL, *err = NULL;
	ptls_sts_config cfg;
	ptls_sts *s;
	FILE *fp;
	long long now = (long long)time(NULL);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cache", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "# comment\n");
	fprintf(fp, "good.example id1 %lld enforce 86400 mx.good.example,*.good.example\n", now);
	fprintf(fp, "old.example id2 %lld enforce 60 mx.old.example\n", now - 3600);
	fprintf(fp, "bad.example id3 %lld enforce 86400 mx..bad\n", now);
	fprintf(fp, "TEST.example id4 %lld enforce 86400 mx.test.example\n", now);
	fprintf(fp, "testing.example id5 %lld testing 86400 mx.testing.example\n", now);
	fprintf(fp, "junk\n");
	fclose(fp);
	memset(&cfg, 0, sizeof(cfg));
	cfg.resolver = "127.0.0.1:9";	/* nothing answers: only the cache can */
	cfg.cache_file = path;
	cfg.lookup_timeout_ms = 1000;
	cfg.fetch_timeout_ms = 1000;
	cfg.refresh_interval = 3600;
	s = ptls_sts_new(&cfg, &err);
	assert_non_null(s);
	/* from the cache at once: refresh_interval has not run out */
	assert_int_equal(ptls_sts_answer(s, "Good.Example.", &ans, &why), PTLS_STS_ENFORCE);
	assert_string_equal(ans, "secure match=mx.good.example:.good.example servername=hostname");
	assert_non_null(strstr(why, "id1"));
	pn_free(ans);
	pn_free(why);
	assert_int_equal(ptls_sts_answer(s, "testing.example", &ans, &why), PTLS_STS_NONE);
	assert_null(ans);
	assert_non_null(strstr(why, "testing"));
	pn_free(why);
	assert_int_equal(ptls_sts_answer(s, "[192.0.2.1]", &ans, &why), PTLS_STS_NONE);
	pn_free(why);
	assert_int_equal(ptls_sts_answer(s, ".example", &ans, &why), PTLS_STS_NONE);
	pn_free(why);
	ptls_sts_free(s);
	/* expired, malformed and non-canonical lines were not loaded */
	s = ptls_sts_new(&cfg, &err);
	assert_non_null(s);
	assert_int_equal(ptls_sts_answer(s, "old.example", &ans, &why), PTLS_STS_NONE);
	pn_free(why);
	assert_int_equal(ptls_sts_answer(s, "bad.example", &ans, &why), PTLS_STS_NONE);
	pn_free(why);
	ptls_sts_free(s);
	{
		/* the report's reader: no network, same checks */
		ptls_sts_policy *p = NULL;
		char id[PTLS_STS_ID_MAX + 1], *text;

		assert_int_equal(ptls_sts_cache_lookup(path, "GOOD.example", &p, id), 1);
		assert_string_equal(id, "id1");
		text = ptls_sts_policy_text(p);
		assert_string_equal(text, "version: STSv1\nmode: enforce\nmx: mx.good.example\n"
				    "mx: *.good.example\nmax_age: 86400\n");
		pn_free(text);
		ptls_sts_policy_free(p);
		assert_int_equal(ptls_sts_cache_lookup(path, "old.example", &p, id), 0);
		assert_null(p);
		assert_int_equal(ptls_sts_cache_lookup("/nonexistent/x", "good.example", &p, id), 0);
	}
	unlink(path);
	rmdir(dir);
}

/* test_bounded_answer - a resolver that never answers: "no policy" after the bound */
static void test_bounded_answer(void **state)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	ptls_sts_config cfg;
	char resolver[64], *err = NULL, *why = NULL, *ans = NULL;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ptls_sts *s;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%u", ntohs(a.sin_port));
	memset(&cfg, 0, sizeof(cfg));
	cfg.resolver = resolver;	/* queries arrive, nothing is sent back */
	cfg.lookup_timeout_ms = 1000;
	cfg.fetch_timeout_ms = 2000;
	s = ptls_sts_new(&cfg, &err);
	assert_non_null(s);
	assert_int_equal(ptls_sts_answer(s, "slow.example", &ans, &why), PTLS_STS_NONE);
	assert_null(ans);
	assert_non_null(strstr(why, "lookup still running after 1000 ms"));
	pn_free(why);
	/* the same domain again: still no policy, and no second query queued */
	assert_int_equal(ptls_sts_answer(s, "slow.example", &ans, &why), PTLS_STS_NONE);
	pn_free(why);
	ptls_sts_free(s);	/* the refresh thread frees it when its query times out */
	/* Not a timing assertion: let that detached thread end (its query's
	 * 2 s deadline) before the process exits, so valgrind and LSan see
	 * it free everything rather than a thread cut off at exit. */
	sleep(3);
	close(fd);
}

/* test_config_errors - a bad resolver or CA file is refused at load */
static void test_config_errors(void **state)
{
	ptls_sts_config cfg;
	char *err = NULL;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.resolver = "localhost:53";
	assert_null(ptls_sts_new(&cfg, &err));
	assert_non_null(strstr(err, "sts_resolver"));
	pn_free(err);
	cfg.resolver = "127.0.0.1:99999";
	assert_null(ptls_sts_new(&cfg, &err));
	pn_free(err);
	/* IPv6 needs brackets for a port; an address in brackets is IPv6 */
	{
		static const char *const bad[] = {"[::1", "[::1]53", "[::1]:", "[::1]:0",
						  "[127.0.0.1]:53", "::1x", ":53", "[]:53"};
		static const char *const good[] = {"::1", "[::1]", "[::1]:5353", "127.0.0.1",
						   "192.0.2.1:53", "2001:db8::53"};
		size_t i;
		ptls_sts *s;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			cfg.resolver = bad[i];
			assert_null(ptls_sts_new(&cfg, &err));
			assert_non_null(strstr(err, "sts_resolver"));
			pn_free(err);
		}
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			cfg.resolver = good[i];
			s = ptls_sts_new(&cfg, &err);
			if (s == NULL)
				fail_msg("%s refused: %s", good[i], err);
			ptls_sts_free(s);
		}
	}
	cfg.resolver = "127.0.0.1:53";
	cfg.ca_file = "/nonexistent/ca.pem";
	assert_null(ptls_sts_new(&cfg, &err));
	assert_non_null(strstr(err, "sts_ca_file"));
	pn_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_mx_match),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy_sts),
		cmocka_unit_test(test_cache_file),
		cmocka_unit_test(test_bounded_answer),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
