/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tls_ledger - Postfix log parser, tracker, ledger counts, log reader, reports
 *
 * The log lines are Postfix 3.7's smtp(8) wording (seen in the e2e test's
 * logs); the attacker's lines come first in each group. Counting under
 * concurrency uses real processes on one SQLite file: four writers must
 * add up exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "milters/tls/ledger.h"
#include "milters/tls/logread.h"
#include "milters/tls/maillog.h"
#include "milters/tls/report.h"
#include "tests/unit/testlib.h"

/* 2026-12-05 12:00:00 UTC */
#define NOW ((time_t)1796472000)

#define TLS13 "Dec  5 10:41:32 mx postfix/smtp[123]: Verified TLS connection established to " \
	"mx.partner.example[127.0.0.1]:2525: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 " \
	"(256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits)"
#define SENT "Dec  5 10:41:32 mx postfix/smtp[123]: 4AB12C3D: to=<a@Partner.Example.>, " \
	"relay=mx.partner.example[127.0.0.1]:2525, delay=0.1, delays=0/0/0.05/0.05, " \
	"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99)"
#define NOTLS "Dec  5 10:41:33 mx postfix/smtp[124]: 5BC: to=<b@plain.example>, " \
	"relay=mx.plain.example[127.0.0.1]:2526, delay=0.1, delays=0/0/0.05/0, dsn=4.7.4, " \
	"status=deferred (TLS is required, but was not offered by host " \
	"mx.plain.example[127.0.0.1])"

static void test_parse_lines(void **state)
{
	ptls_ml_line l;
	char day[11];

	(void)state;
	assert_int_equal(ptls_maillog_parse(TLS13, strlen(TLS13), NOW, &l), PTLS_ML_TLS);
	assert_string_equal(l.program, "postfix/smtp");
	assert_int_equal(l.pid, 123);
	assert_string_equal(l.peer, "mx.partner.example[127.0.0.1]:2525");
	assert_string_equal(l.trust, "Verified");
	assert_string_equal(l.version, "TLSv1.3");
	assert_string_equal(l.cipher, "TLS_AES_256_GCM_SHA384");

	/* case, trailing dot: one partner spelling */
	assert_int_equal(ptls_maillog_parse(SENT, strlen(SENT), NOW, &l), PTLS_ML_DELIVERY);
	assert_string_equal(l.queue_id, "4AB12C3D");
	assert_string_equal(l.rcpt_domain, "partner.example");
	assert_string_equal(l.peer, "mx.partner.example[127.0.0.1]:2525");
	assert_string_equal(l.status, "sent");
	assert_string_equal(l.text, "250 2.0.0 Ok: queued as 99");

	/* IDN recipient, orig_to, a quoted local part with ">, " in it, RFC 3339 stamp */
	{
		const char *s = "2026-12-05T23:30:00-05:00 mx postfix-out/smtp[9]: AB: "
				"to=<\"x>, y\"@B\xc3\x9c" "CHER.example>, orig_to=<o@q.example>, "
				"relay=[::1]:25, dsn=4.7.5, status=bounced (Server certificate not "
				"verified)";
		assert_int_equal(ptls_maillog_parse(s, strlen(s), NOW, &l), PTLS_ML_DELIVERY);
		assert_string_equal(l.program, "postfix-out/smtp");
		assert_string_equal(l.rcpt_domain, "xn--bcher-kva.example");
		assert_string_equal(l.peer, "[::1]:25");
		assert_string_equal(l.status, "bounced");
		assert_string_equal(l.text, "Server certificate not verified");
		ptls_ml_day(l.when, day);
		assert_string_equal(day, "2026-12-06");	/* 23:30 at -05:00 is the next UTC day */
	}
	/* December's line read on the 1st of January belongs to the year before */
	{
		const char *s = "Dec 31 23:59:59 mx postfix/smtp[1]: A: to=<a@b.example>, "
				"relay=h[192.0.2.1]:25, dsn=2.0.0, status=sent (ok)";
		assert_int_equal(ptls_maillog_parse(s, strlen(s), NOW + 27 * 86400, &l),
				 PTLS_ML_DELIVERY);
		ptls_ml_day(l.when, day);
		assert_string_equal(day + 4, "-12-31");
		assert_true(l.when < NOW + 27 * 86400);
	}
}

static void test_parse_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"Dec  5 10:41:32",
		/* not smtp(8): lmtp, local, a look-alike program name */
		"Dec  5 10:41:32 mx postfix/lmtp[1]: A: to=<a@b.example>, relay=h[1.2.3.4]:24, status=sent (ok)",
		"Dec  5 10:41:32 mx evil smtp[1]: A: to=<a@b.example>, relay=h[1.2.3.4]:25, status=sent (ok)",
		/* a queue id that is not one, a missing relay, no status */
		"Dec  5 10:41:32 mx postfix/smtp[1]: A-B: to=<a@b.example>, relay=h[1.2.3.4]:25, status=sent (ok)",
		"Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<a@b.example>, status=sent (ok)",
		"Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<a@b.example>, relay=h[1.2.3.4]:25, dsn=2.0.0",
		/* bad stamps */
		"Foo  5 10:41:32 mx postfix/smtp[1]: A: to=<a@b.example>, relay=h[1.2.3.4]:25, status=sent (ok)",
		"2026-13-05T10:41:32Z mx postfix/smtp[1]: A: to=<a@b.example>, relay=h[1.2.3.4]:25, status=sent (ok)",
		"Dec 45 10:41:32 mx postfix/smtp[1]: A: to=<a@b.example>, relay=h[1.2.3.4]:25, status=sent (ok)",
		/* a TLS line with no port, with an unknown trust word */
		"Dec  5 10:41:32 mx postfix/smtp[1]: Verified TLS connection established to h[1.2.3.4]: TLSv1.3 with cipher X (1/1 bits)",
		"Dec  5 10:41:32 mx postfix/smtp[1]: Mighty TLS connection established to h[1.2.3.4]:25: TLSv1.3 with cipher X (1/1 bits)",
		/* control characters in a field */
		"Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<a@b.example>, relay=h\x1b[31m[1.2.3.4]:25, status=sent (ok)",
		NULL
	};
	ptls_ml_line l;
	char big[4096];
	int i;

	(void)state;
	for (i = 0; bad[i]; i++)
		assert_int_equal(ptls_maillog_parse(bad[i], strlen(bad[i]), NOW, &l), PTLS_ML_OTHER);
	/* a peer too long for its field: OTHER, not a cut name */
	snprintf(big, sizeof(big), "Dec  5 10:41:32 mx postfix/smtp[1]: Verified TLS connection "
		 "established to %0400d[1.2.3.4]:25: TLSv1.3 with cipher X (1/1 bits)", 7);
	assert_int_equal(ptls_maillog_parse(big, strlen(big), NOW, &l), PTLS_ML_OTHER);
	/* a NUL inside the line: the length is what counts, and the line is refused */
	{
		char withnul[] = "Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<a@b.example>, "
				 "relay=h[1.2.3.4]:25, status=sent (o\0k)";
		assert_int_equal(ptls_maillog_parse(withnul, sizeof(withnul) - 1, NOW, &l),
				 PTLS_ML_DELIVERY);
		assert_string_equal(l.text, "");	/* the reason with a NUL is dropped */
	}
	/* a local user's quoted address that imitates a delivery to a partner:
	 * the address is read by its syntax, so the domain is the real one */
	{
		const char *s = "Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<\"a@partner.example>, "
				"relay=mx.partner.example[127.0.0.1]:25, delay=1, delays=0/0/0/0, "
				"dsn=2.0.0, status=sent (x\"@evil.example>, relay=mx.evil.example"
				"[192.0.2.7]:25, delay=1, delays=0/0/0/0, dsn=4.0.0, status=deferred "
				"(connection refused)";
		assert_int_equal(ptls_maillog_parse(s, strlen(s), NOW, &l), PTLS_ML_DELIVERY);
		assert_string_equal(l.rcpt_domain, "evil.example");
		assert_string_equal(l.peer, "mx.evil.example[192.0.2.7]:25");
		assert_string_equal(l.status, "deferred");
		/* an unterminated quote is no address */
		s = "Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<\"a@partner.example>, "
		    "relay=h[1.2.3.4]:25, status=sent (ok)";
		assert_int_equal(ptls_maillog_parse(s, strlen(s), NOW, &l), PTLS_ML_OTHER);
	}
	/* a domain that is no domain: parsed, but no partner, so no event */
	{
		static ptls_ml_tracker t;
		ptls_ml_event ev;
		const char *s = "Dec  5 10:41:32 mx postfix/smtp[1]: A: to=<a@b..example>, "
				"relay=h[1.2.3.4]:25, status=sent (ok)";
		ptls_ml_tracker_init(&t);
		assert_int_equal(ptls_maillog_parse(s, strlen(s), NOW, &l), PTLS_ML_DELIVERY);
		assert_string_equal(l.rcpt_domain, "");
		assert_int_equal(ptls_ml_track(&t, &l, &ev), 0);
	}
}

/* feed - parse and track one line; 1 with ev filled for a delivery */
static int feed(ptls_ml_tracker *t, const char *s, ptls_ml_event *ev)
{
	ptls_ml_line l;
	static ptls_ml_line keep;	/* ev points into the line */

	ptls_maillog_parse(s, strlen(s), NOW, &l);
	keep = l;
	return ptls_ml_track(t, &keep, ev);
}

static void test_tracker(void **state)
{
	static ptls_ml_tracker t;
	ptls_ml_event ev;
	const char *other = "Dec  5 10:41:34 mx postfix/smtp[123]: 6CD: to=<c@partner.example>, "
			    "relay=backup.partner.example[127.0.0.2]:25, dsn=2.0.0, status=sent (ok)";
	const char *second = "Dec  5 10:41:32 mx postfix/smtp[123]: 4AB12C3D: to=<z@partner.example>, "
			     "relay=mx.partner.example[127.0.0.1]:2525, dsn=2.0.0, status=sent (ok)";

	(void)state;
	ptls_ml_tracker_init(&t);
	assert_int_equal(feed(&t, TLS13, &ev), 0);
	assert_int_equal(feed(&t, SENT, &ev), 1);
	assert_string_equal(ev.day, "2026-12-05");
	assert_string_equal(ev.partner, "partner.example");
	assert_string_equal(ev.result, "delivered");
	assert_string_equal(ev.tls, "TLSv1.3");
	assert_string_equal(ev.cipher, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(ev.trust, "verified");
	assert_string_equal(ev.failure, "");
	assert_string_equal(ev.mx_host, "mx.partner.example");
	/* a second recipient of the same session keeps its TLS */
	assert_int_equal(feed(&t, second, &ev), 1);
	assert_string_equal(ev.tls, "TLSv1.3");
	/* the same process later delivers to another host without TLS: not credited */
	assert_int_equal(feed(&t, other, &ev), 1);
	assert_string_equal(ev.tls, "none");
	assert_string_equal(ev.failure, "starttls-not-supported");
	/* TLS required but not offered */
	assert_int_equal(feed(&t, NOTLS, &ev), 1);
	assert_string_equal(ev.result, "deferred");
	assert_string_equal(ev.failure, "starttls-not-supported");
	assert_non_null(strstr(ev.detail, "not offered"));
	/* an expired certificate, then Postfix's "not trusted" */
	assert_int_equal(feed(&t, "Dec  5 10:41:35 mx postfix/smtp[200]: certificate verification "
			      "failed for mx.x.example[127.0.0.3]:25: certificate has expired", &ev), 0);
	assert_int_equal(feed(&t, "Dec  5 10:41:35 mx postfix/smtp[200]: Untrusted TLS connection "
			      "established to mx.x.example[127.0.0.3]:25: TLSv1.2 with cipher "
			      "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)", &ev), 0);
	assert_int_equal(feed(&t, "Dec  5 10:41:35 mx postfix/smtp[200]: 7DE: to=<d@x.example>, "
			      "relay=mx.x.example[127.0.0.3]:25, dsn=4.7.5, status=deferred (Server "
			      "certificate not trusted)", &ev), 1);
	assert_string_equal(ev.failure, "certificate-expired");
	assert_string_equal(ev.tls, "TLSv1.2");
	assert_string_equal(ev.trust, "untrusted");
	assert_string_equal(ptls_ml_failure("Server certificate not trusted", NULL),
			    "certificate-not-trusted");
	assert_string_equal(ptls_ml_failure("Server certificate not verified", NULL),
			    "certificate-host-mismatch");
	assert_string_equal(ptls_ml_failure("Cannot start TLS: handshake failure", NULL),
			    "validation-failure");
	assert_string_equal(ptls_ml_failure("connect to h[1.2.3.4]:25: Connection refused", NULL), "");
}

/* sum - a callback adding up query rows */
static int sum(void *arg, const ptls_ledger_row *r)
{
	*(long long *)arg += r->n;
	return 0;
}

/* row_of - a ledger row with the given partner, direction and result */
static ptls_ledger_row row_of(const char *day, const char *partner, const char *dir,
			      const char *result)
{
	ptls_ledger_row r = {day, partner, dir, result, "TLSv1.3", "TLS_AES_256_GCM_SHA384",
			     "verified", "", "", "", 1};
	return r;
}

static void test_counts_concurrent(void **state)
{
	const char *dir = t_tmpdir("ledger");
	char *path = pn_asprintf("%s/ledger.db", dir), *err = NULL;
	ptls_ledger *l;
	long long total = 0;
	pid_t kids[4];
	int i, status;

	(void)state;
	l = ptls_ledger_open(path, 0, 10000, &err);
	assert_non_null(l);
	ptls_ledger_close(l);
	/* four processes, each its own handle, 250 counts each to the same row */
	for (i = 0; i < 4; i++) {
		if ((kids[i] = fork()) == 0) {
			ptls_ledger *c = ptls_ledger_open(path, 0, 30000, &err);
			ptls_ledger_row r = row_of("2026-12-05", "partner.example", "inbound",
						   "compliant");
			int k, bad = c == NULL;
			for (k = 0; c && k < 250; k++)
				bad |= ptls_ledger_add(c, &r, &err) < 0;
			ptls_ledger_close(c);
			_exit(bad);
		}
		assert_true(kids[i] > 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	l = ptls_ledger_open(path, 1, 10000, &err);
	assert_non_null(l);
	assert_int_equal(ptls_ledger_query(l, NULL, NULL, "partner.example", sum, &total, &err), 0);
	assert_int_equal(total, 1000);
	/* days: --since and --until bound the sum */
	ptls_ledger_close(l);
	l = ptls_ledger_open(path, 0, 10000, &err);
	{
		ptls_ledger_row r = row_of("2026-11-01", "partner.example", "inbound", "compliant");
		assert_int_equal(ptls_ledger_add(l, &r, &err), 0);
	}
	total = 0;
	assert_int_equal(ptls_ledger_query(l, "2026-12-01", NULL, NULL, sum, &total, &err), 0);
	assert_int_equal(total, 1000);
	total = 0;
	assert_int_equal(ptls_ledger_query(l, NULL, "2026-11-30", NULL, sum, &total, &err), 0);
	assert_int_equal(total, 1);
	ptls_ledger_close(l);
	/* a report on a missing ledger says so */
	assert_null(ptls_ledger_open("/nonexistent/ledger.db", 1, 10, &err));
	assert_non_null(strstr(err, "/nonexistent/ledger.db"));
	pn_free(err);
	pn_free(path);
}

/* append - add text to a file */
static void append(const char *path, const char *text)
{
	FILE *fp = fopen(path, "a");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* outbound_total - the outbound sessions counted for a partner */
static long long outbound_total(ptls_ledger *l, const char *partner)
{
	long long n = 0;
	char *err = NULL;

	assert_int_equal(ptls_ledger_query(l, NULL, NULL, partner, sum, &n, &err), 0);
	return n;
}

static void test_logread(void **state)
{
	const char *dir = t_tmpdir("logread");
	char *db = pn_asprintf("%s/ledger.db", dir), *log = pn_asprintf("%s/mail.log", dir);
	char *old = pn_asprintf("%s/mail.log.1", dir), *err = NULL;
	ptls_policy_set *pol = ptls_policy_parse("partner.example outbound=encrypt\n"
						 "plain.example outbound=encrypt\n", 64, "p", &err);
	ptls_logread_stats st;
	ptls_ledger *l;

	(void)state;
	assert_non_null(pol);
	l = ptls_ledger_open(db, 0, 10000, &err);
	assert_non_null(l);
	/* the TLS line in one run, its delivery in the next: still counted with TLS */
	append(log, TLS13 "\n");
	assert_int_equal(ptls_logread(l, log, pol, 0, NOW, &st, &err), 0);
	assert_int_equal(st.lines, 1);
	/* a delivery line still being written is left for the next run */
	append(log, SENT "\nDec  5 10:41:33 mx postfix/smtp[124]: 5BC: to=<b@plain");
	assert_int_equal(ptls_logread(l, log, pol, 0, NOW, &st, &err), 0);
	assert_int_equal(st.counted, 1);
	assert_int_equal(outbound_total(l, "partner.example"), 1);
	append(log, ".example>, relay=mx.plain.example[127.0.0.1]:2526, dsn=4.7.4, status=deferred "
	       "(TLS is required, but was not offered by host mx.plain.example[127.0.0.1])\n");
	/* a domain no policy line covers is not counted */
	append(log, "Dec  5 10:41:40 mx postfix/smtp[125]: 5BE: to=<x@elsewhere.example>, "
	       "relay=h[192.0.2.9]:25, dsn=2.0.0, status=sent (ok)\n");
	assert_int_equal(ptls_logread(l, log, pol, 0, NOW, &st, &err), 0);
	assert_int_equal(st.counted, 1);
	assert_int_equal(outbound_total(l, "plain.example"), 1);
	assert_int_equal(outbound_total(l, "elsewhere.example"), 0);
	/* read again: nothing counted twice */
	assert_int_equal(ptls_logread(l, log, pol, 0, NOW, &st, &err), 0);
	assert_int_equal(st.lines, 0);
	/* Postfix writes one more line, then logrotate renames the file */
	append(log, NOTLS "\n");
	assert_int_equal(rename(log, old), 0);
	append(log, NOTLS "\n" NOTLS "\n");
	assert_int_equal(ptls_logread(l, log, pol, 0, NOW, &st, &err), 0);
	assert_true(st.rotated);
	assert_false(st.rotated_lost);
	assert_int_equal(st.counted, 3);
	assert_int_equal(outbound_total(l, "plain.example"), 4);
	/* copytruncate: a shorter file is read from its start */
	assert_int_equal(t_write_file(log, NOTLS "\n", strlen(NOTLS) + 1), 0);
	assert_int_equal(ptls_logread(l, log, pol, 0, NOW, &st, &err), 0);
	assert_int_equal(st.counted, 1);
	assert_int_equal(outbound_total(l, "plain.example"), 5);
	/* a missing file is an error naming it */
	assert_int_equal(ptls_logread(l, "/nonexistent/mail.log", pol, 0, NOW, &st, &err), -1);
	assert_non_null(strstr(err, "/nonexistent/mail.log"));
	pn_free(err);
	ptls_ledger_close(l);
	ptls_policy_free(pol);
	pn_free(db);
	pn_free(log);
	pn_free(old);
}

/* member - obj[name] of the given json type, or a failed assertion */
static json_object *member(json_object *obj, const char *name, json_type type)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, name, &v)) {
		fprintf(stderr, "missing member %s\n", name);
		fail();
	}
	if (!json_object_is_type(v, type)) {
		fprintf(stderr, "member %s: wrong type\n", name);
		fail();
	}
	return v;
}

static void test_rfc8460(void **state)
{
	const char *dir = t_tmpdir("rfc8460");
	char *db = pn_asprintf("%s/ledger.db", dir), *err = NULL, *out = NULL;
	size_t outlen = 0;
	ptls_policy_set *pol = ptls_policy_parse("partner.example outbound=encrypt "
						 "min_version=TLSv1.2\n", 52, "pol", &err);
	ptls_ledger *l = ptls_ledger_open(db, 0, 10000, &err);
	ptls_ledger_row ok = {"2026-12-05", "partner.example", "outbound", "delivered", "TLSv1.3",
			      "TLS_AES_256_GCM_SHA384", "verified", "", "mx.partner.example", "", 3};
	/* hostile reason text: quotes, backslash, a newline must come out as JSON */
	ptls_ledger_row bad = {"2026-12-05", "partner.example", "outbound", "deferred", "none", "",
			       "none", "starttls-not-supported", "mx.partner.example",
			       "TLS is required, \"but\" \\ not\noffered", 2};
	ptls_ledger_row in = {"2026-12-05", "partner.example", "inbound", "refused", "none", "",
			      "none", "", "", "", 5};
	ptls_report_opts o;
	json_object *top, *range, *pols, *p, *pol_o, *summary, *details, *d;
	FILE *fp;

	(void)state;
	assert_non_null(pol);
	assert_non_null(l);
	assert_int_equal(ptls_ledger_add(l, &ok, &err), 0);
	assert_int_equal(ptls_ledger_add(l, &bad, &err), 0);
	assert_int_equal(ptls_ledger_add(l, &in, &err), 0);
	memset(&o, 0, sizeof(o));
	o.format = PTLS_REPORT_RFC8460;
	o.since = "2026-12-01";
	o.until = "2026-12-05";
	o.organization = "Example Org";
	o.contact = "postmaster@example.org";
	o.policy = pol;
	o.now = NOW;
	fp = open_memstream(&out, &outlen);
	assert_int_equal(ptls_report(l, &o, fp, &err), 0);
	fclose(fp);
	top = json_tokener_parse(out);
	assert_non_null(top);
	member(top, "organization-name", json_type_string);
	range = member(top, "date-range", json_type_object);
	assert_string_equal(json_object_get_string(member(range, "start-datetime", json_type_string)),
			    "2026-12-01T00:00:00Z");
	assert_string_equal(json_object_get_string(member(range, "end-datetime", json_type_string)),
			    "2026-12-05T23:59:59Z");
	member(top, "contact-info", json_type_string);
	member(top, "report-id", json_type_string);
	pols = member(top, "policies", json_type_array);
	assert_int_equal(json_object_array_length(pols), 1);	/* inbound is not in it */
	p = json_object_array_get_idx(pols, 0);
	pol_o = member(p, "policy", json_type_object);
	assert_string_equal(json_object_get_string(member(pol_o, "policy-type", json_type_string)),
			    "no-policy-found");
	member(pol_o, "policy-string", json_type_array);
	assert_string_equal(json_object_get_string(member(pol_o, "policy-domain", json_type_string)),
			    "partner.example");
	member(pol_o, "mx-host", json_type_array);
	summary = member(p, "summary", json_type_object);
	assert_int_equal(json_object_get_int64(member(summary, "total-successful-session-count",
						      json_type_int)), 3);
	assert_int_equal(json_object_get_int64(member(summary, "total-failure-session-count",
						      json_type_int)), 2);
	details = member(p, "failure-details", json_type_array);
	assert_int_equal(json_object_array_length(details), 1);
	d = json_object_array_get_idx(details, 0);
	assert_string_equal(json_object_get_string(member(d, "result-type", json_type_string)),
			    "starttls-not-supported");
	assert_int_equal(json_object_get_int64(member(d, "failed-session-count", json_type_int)), 2);
	/* the ledger stored printable ASCII only: the newline became "?" */
	assert_string_equal(json_object_get_string(member(d, "failure-reason-code", json_type_string)),
			    "TLS is required, \"but\" \\ not?offered");
	json_object_put(top);
	free(out);
	/* text: the inbound refusals are there, per direction */
	out = NULL;
	o.format = PTLS_REPORT_TEXT;
	fp = open_memstream(&out, &outlen);
	assert_int_equal(ptls_report(l, &o, fp, &err), 0);
	fclose(fp);
	assert_non_null(strstr(out, "inbound   5 sessions: 5 refused"));
	assert_non_null(strstr(out, "outbound  5 sessions: 2 deferred, 3 delivered"));
	free(out);
	ptls_ledger_close(l);
	ptls_policy_free(pol);
	pn_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_tracker),
		cmocka_unit_test(test_counts_concurrent),
		cmocka_unit_test(test_logread),
		cmocka_unit_test(test_rfc8460),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
