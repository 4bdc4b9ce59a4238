/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tls_socketmap - Postfix's socketmap protocol answered from a policy:
 * the replies (same values as the exported table), and a real server on a
 * unix socket driven the way Postfix's client drives it, and the way an
 * attacker would */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/netstring.h"
#include "milters/tls/postfix_map.h"
#include "milters/tls/socketmap.h"
#include "milters/tls/sts.h"

#include <time.h>
#include "tests/unit/testlib.h"

static const char POLICY[] =
	"partner.example   min_version=TLSv1.2 direction=both\n"
	"strict.example    min_version=TLSv1.3 outbound=encrypt outbound_ciphers=high\n"
	".bank.example     outbound=secure match=mx.bank.example\n"
	"inbound.example   min_version=TLSv1.2\n"
	"b\xc3\xbc" "cher.example direction=outbound\n"
	"*                 min_version=TLSv1.2 direction=both\n";

static ptls_policy_set *policy;

static int setup(void **unused)
{
	char *err = NULL;

	(void)unused;
	/* a client writing to a connection the server refused must see EPIPE,
	 * as Postfix (which ignores SIGPIPE) does, not die of it */
	signal(SIGPIPE, SIG_IGN);
	policy = ptls_policy_parse(POLICY, sizeof(POLICY) - 1, "tls_policy", &err);
	if (policy == NULL)
		fprintf(stderr, "%s\n", err);
	return policy ? 0 : -1;
}

static int teardown(void **unused)
{
	(void)unused;
	ptls_policy_free(policy);
	t_tmpdir_cleanup();
	return 0;
}

/* reply - the reply payload for a request (a C string here) */
static char *reply(const char *req)
{
	pn_buf b;

	ptls_socketmap_view v = {policy, NULL, 0};

	pn_buf_init(&b, 0);
	ptls_socketmap_reply(&v, req, strlen(req), &b);
	return pn_buf_steal(&b, NULL);
}

#define assert_reply(req, want) do { \
		char *got_ = reply(req); \
		assert_string_equal(got_, want); \
		pn_free(got_); \
	} while (0)

static void test_replies(void **unused)
{
	(void)unused;
	assert_reply("postfix partner.example", "OK encrypt protocols=>=TLSv1.2");
	assert_reply("postfix strict.example", "OK encrypt protocols=>=TLSv1.3 ciphers=high");
	/* Postfix's own spellings of a next hop: case, one trailing dot */
	assert_reply("postfix PARTNER.Example.", "OK encrypt protocols=>=TLSv1.2");
	/* subdomains: Postfix asks the full name, then ".parent" */
	assert_reply("postfix mx.bank.example", "NOTFOUND ");
	assert_reply("postfix .bank.example", "OK secure match=mx.bank.example");
	assert_reply("postfix .BANK.example.", "OK secure match=mx.bank.example");
	assert_reply("postfix bank.example", "NOTFOUND ");
	/* inbound-only lines are not exported, "*" has no key */
	assert_reply("postfix inbound.example", "NOTFOUND ");
	assert_reply("postfix other.example", "NOTFOUND ");
	assert_reply("postfix *", "NOTFOUND ");
	/* an SMTPUTF8 next hop in UTF-8 and its A-label */
	assert_reply("postfix xn--bcher-kva.example", "OK encrypt");
	assert_reply("postfix b\xc3\xbc" "cher.example", "OK encrypt");
	assert_reply("postfix B\xc3\x9c" "CHER.example", "OK encrypt");
	/* explicit next hops are no partner domains */
	assert_reply("postfix [127.0.0.1]:25", "NOTFOUND ");
	assert_reply("postfix partner.example:25", "NOTFOUND ");
	assert_reply("postfix /var/run/x.sock", "NOTFOUND ");
}

static void test_hostile_requests(void **unused)
{
	char *got, big[2000];
	pn_buf b;

	(void)unused;
	assert_reply("postfix", "PERM request without a key (want \"NAME KEY\")");
	assert_reply("postfix ", "PERM empty key");
	/* another map name: refused without echoing it */
	got = reply("evil%s%n\r\n partner.example");
	assert_string_equal(got, "PERM unknown map name (want socketmap:...:postfix)");
	pn_free(got);
	assert_reply("Postfix partner.example", "PERM unknown map name (want socketmap:...:postfix)");
	/* a second space, CR, LF, NUL: no domain */
	assert_reply("postfix partner.example extra", "NOTFOUND ");
	assert_reply("postfix partner.example\r\nOK", "NOTFOUND ");
	pn_buf_init(&b, 0);
	{
		ptls_socketmap_view v = {policy, NULL, 0};
		ptls_socketmap_reply(&v, "postfix partner.example\0x", 25, &b);
	}
	assert_string_equal(pn_buf_str(&b), "NOTFOUND ");
	pn_buf_free(&b);
	/* long keys */
	memset(big, 'a', sizeof(big));
	memcpy(big, "postfix ", 8);
	big[sizeof(big) - 1] = '\0';
	assert_reply(big, "PERM key too long");
	/* no policy at all: Postfix must retry, not fall back to plain text */
	pn_buf_init(&b, 0);
	ptls_socketmap_reply(NULL, "postfix partner.example", 23, &b);
	assert_string_equal(pn_buf_str(&b), "TEMP no policy loaded");
	pn_buf_free(&b);
}

/* every exported line is answered with exactly the value the file has */
static void test_same_as_file(void **unused)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int checked = 0;

	(void)unused;
	ptls_postfix_map_write(policy, f);
	fclose(f);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *key, *value, *req, *want;
		if (line[0] == '#')
			continue;
		key = pn_strndup(line, strcspn(line, " "));
		value = line + strcspn(line, " ");
		value += strspn(value, " ");
		req = pn_asprintf("postfix %s", key);
		want = pn_asprintf("OK %s", value);
		assert_reply(req, want);
		pn_free(key);
		pn_free(req);
		pn_free(want);
		checked++;
	}
	assert_int_equal(checked, 5);	/* 4 exported lines, bücher twice */
	free(text);
}

/* MTA-STS: which domains the published policy answers, and that a static
 * rule always wins; the sts cache is filled from a cache file (the
 * resolver is a port where nothing answers) */
static void test_sts_hook(void **unused)
{
	static const char sts_policy[] =
		"stsdomain.example  outbound=sts\n"
		".stsgroup.example  outbound=sts\n"
		"static.example     outbound=encrypt min_version=TLSv1.3\n"
		"inbound.example    min_version=TLSv1.2\n";
	const char *dir = t_tmpdir("socketmap-sts");
	char *path = pn_asprintf("%s/cache", dir), *err = NULL, *got;
	long long now = (long long)time(NULL);
	ptls_policy_set *ps = ptls_policy_parse(sts_policy, sizeof(sts_policy) - 1, "p", &err);
	ptls_sts_config cfg;
	ptls_socketmap_view v;
	pn_buf b;
	FILE *fp = fopen(path, "w");
	size_t i;
	static const char *const published[] = {
		"stsdomain.example", "mx.stsgroup.example", "static.example", "anyone.example",
		"inbound.example", NULL
	};

	(void)unused;
	assert_non_null(ps);
	assert_non_null(fp);
	for (i = 0; published[i]; i++)
		fprintf(fp, "%s id%zu %lld enforce 86400 mx.%s\n", published[i], i, now,
			published[i]);
	fclose(fp);
	memset(&cfg, 0, sizeof(cfg));
	cfg.resolver = "127.0.0.1:9";
	cfg.cache_file = path;
	cfg.lookup_timeout_ms = 500;
	cfg.fetch_timeout_ms = 500;
	cfg.refresh_interval = 3600;
	v.policy = ps;
	v.sts = ptls_sts_new(&cfg, &err);
	v.sts_all_domains = 0;
	assert_non_null(v.sts);
#define ASK(req, want) do { \
		pn_buf_init(&b, 0); \
		ptls_socketmap_reply(&v, req, strlen(req), &b); \
		got = pn_buf_steal(&b, NULL); \
		assert_string_equal(got, want); \
		pn_free(got); \
	} while (0)
	/* an outbound=sts line: the partner's published policy */
	ASK("postfix stsdomain.example",
	    "OK secure match=mx.stsdomain.example servername=hostname");
	ASK("postfix STSdomain.example.",
	    "OK secure match=mx.stsdomain.example servername=hostname");
	/* a subdomain under ".stsgroup.example outbound=sts": its own policy */
	ASK("postfix mx.stsgroup.example",
	    "OK secure match=mx.mx.stsgroup.example servername=hostname");
	/* Postfix's parent walk never reaches MTA-STS, nor a file line */
	ASK("postfix .stsgroup.example", "NOTFOUND ");
	/* a static rule wins over a published policy */
	ASK("postfix static.example", "OK encrypt protocols=>=TLSv1.3");
	/* other domains only with sts_all_domains */
	ASK("postfix anyone.example", "NOTFOUND ");
	v.sts_all_domains = 1;
	ASK("postfix anyone.example", "OK secure match=mx.anyone.example servername=hostname");
	ASK("postfix static.example", "OK encrypt protocols=>=TLSv1.3");
	/* a partner line (inbound only) is a static rule: Postfix's default */
	ASK("postfix inbound.example", "NOTFOUND ");
	/* no published policy cached, no resolver: no policy, within the bound */
	ASK("postfix nothing.example", "NOTFOUND ");
	ASK("postfix [192.0.2.1]:25", "NOTFOUND ");
	/* MTA-STS off: an outbound=sts line has no answer */
	ptls_sts_free(v.sts);
	v.sts = NULL;
	ASK("postfix stsdomain.example", "NOTFOUND ");
#undef ASK
	ptls_policy_free(ps);
	pn_free(path);
}

/* --- the server --------------------------------------------------------- */

static int acquired, released;
static int acq(ptls_socketmap_view *v, void **h)
{
	acquired++;
	v->policy = policy;
	v->sts = NULL;
	v->sts_all_domains = 0;
	*h = policy;
	return 0;
}
static void rel(void *h)
{
	assert_ptr_equal(h, policy);
	released++;
}

static ptls_socketmap *start(const char *path, unsigned max_conns, long long timeout_ms)
{
	ptls_socketmap_opts o;
	ptls_socketmap_source src = {acq, rel};
	ptls_socketmap *m;
	char *err = NULL;

	memset(&o, 0, sizeof(o));
	o.path = path;
	o.mode = 0600;
	o.max_connections = max_conns;
	o.max_request = 0;
	o.timeout_ms = timeout_ms;
	o.idle_ms = 60000;
	m = ptls_socketmap_start(&o, src, &err);
	if (m == NULL)
		fprintf(stderr, "%s\n", err);
	assert_non_null(m);
	return m;
}

static int dial(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* read_all - what the server sends until it closes or 10 s pass */
static char *read_until_close(int fd, size_t *len)
{
	pn_buf b;
	char chunk[512];
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t n;

	pn_buf_init(&b, 0);
	while (poll(&p, 1, 10000) == 1 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		pn_buf_append(&b, chunk, (size_t)n);
	return pn_buf_steal(&b, len);
}

/* one_reply - read one netstring reply; bytes of later replies stay in
 * a buffer per descriptor for the next call */
static char *one_reply(int fd)
{
	static char buf[8][1024];
	static size_t have[8];
	char *b = buf[fd % 8];
	size_t *h = &have[fd % 8], plen, used;
	const char *p, *why;
	struct pollfd pf = {fd, POLLIN, 0};
	ssize_t n;
	char *out;

	for (;;) {
		if (pn_netstring_parse(b, *h, 400, &p, &plen, &used, &why) == 1) {
			out = pn_strndup(p, plen);
			memmove(b, b + used, *h - used);
			*h -= used;
			return out;
		}
		if (poll(&pf, 1, 10000) != 1 || (n = read(fd, b + *h, sizeof(buf[0]) - *h)) <= 0)
			return NULL;
		*h += (size_t)n;
	}
}

static void test_server(void **unused)
{
	const char *dir = t_tmpdir("socketmap");
	char *path = pn_asprintf("%s/tls-policy.sock", dir), *r, *all;
	const char *pipelined = "23:postfix partner.example,21:postfix .bank.example,"
				"22:postfix nobody.example,";
	ptls_socketmap *m;
	struct stat st;
	size_t len;
	int fd, fd2;

	(void)unused;
	/* a file that is no socket is never removed */
	assert_int_equal(t_write_file(path, "keep", 4), 0);
	{
		ptls_socketmap_opts o = {path, 0600, 4, 0, 1000, 1000};
		ptls_socketmap_source src = {acq, rel};
		char *err = NULL;
		assert_null(ptls_socketmap_start(&o, src, &err));
		assert_non_null(strstr(err, "not a socket"));
		pn_free(err);
	}
	unlink(path);
	m = start(path, 2, 30000);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Postfix sends several requests on one connection, maybe at once */
	fd = dial(path);
	assert_int_equal(write(fd, pipelined, strlen(pipelined)), (ssize_t)strlen(pipelined));
	r = one_reply(fd);
	assert_string_equal(r, "OK encrypt protocols=>=TLSv1.2");
	pn_free(r);
	r = one_reply(fd);
	assert_string_equal(r, "OK secure match=mx.bank.example");
	pn_free(r);
	r = one_reply(fd);
	assert_string_equal(r, "NOTFOUND ");
	pn_free(r);
	/* one request in pieces, byte by byte */
	{
		const char *req = "22:postfix strict.example,";
		size_t i;
		for (i = 0; req[i]; i++)
			assert_int_equal(write(fd, req + i, 1), 1);
		r = one_reply(fd);
		assert_string_equal(r, "OK encrypt protocols=>=TLSv1.3 ciphers=high");
		pn_free(r);
	}
	/* a second connection while the first stays open */
	fd2 = dial(path);
	assert_int_equal(write(fd2, "22:postfix nobody.example,", 26), 26);
	r = one_reply(fd2);
	assert_string_equal(r, "NOTFOUND ");
	pn_free(r);
	/* a third is over max_connections = 2: closed without a reply */
	{
		int fd3 = dial(path);
		(void)!write(fd3, "22:postfix nobody.example,", 26);
		all = read_until_close(fd3, &len);
		assert_int_equal(len, 0);
		pn_free(all);
		close(fd3);
	}
	/* a hostile frame closes only its own connection */
	assert_int_equal(write(fd2, "999999999:", 10), 10);
	all = read_until_close(fd2, &len);
	assert_int_equal(len, 0);
	pn_free(all);
	close(fd2);
	assert_int_equal(write(fd, "22:postfix nobody.example,", 26), 26);
	r = one_reply(fd);
	assert_string_equal(r, "NOTFOUND ");
	pn_free(r);
	close(fd);
	assert_true(acquired >= 5);
	ptls_socketmap_stop(m);
	assert_int_equal(acquired, released);
	/* stop removes the socket */
	assert_int_equal(stat(path, &st), -1);
	pn_free(path);
}

/* a request that never completes is dropped after the request time bound */
static void test_slow_request(void **unused)
{
	const char *dir = t_tmpdir("socketmap-slow");
	char *path = pn_asprintf("%s/s.sock", dir), *all;
	ptls_socketmap *m = start(path, 4, 300);
	size_t len;
	int fd = dial(path);

	(void)unused;
	assert_int_equal(write(fd, "23:postfix partn", 16), 16);
	all = read_until_close(fd, &len);	/* the server closes; we do not wait 10 s */
	assert_int_equal(len, 0);
	pn_free(all);
	close(fd);
	/* a stale socket from a crashed run is replaced */
	ptls_socketmap_stop(m);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	close(fd);
	m = start(path, 4, 300);
	fd = dial(path);
	assert_int_equal(write(fd, "23:postfix partner.example,", 27), 27);
	all = one_reply(fd);
	assert_string_equal(all, "OK encrypt protocols=>=TLSv1.2");
	pn_free(all);
	close(fd);
	ptls_socketmap_stop(m);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_hostile_requests),
		cmocka_unit_test(test_same_as_file),
		cmocka_unit_test(test_sts_hook),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_slow_request),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
