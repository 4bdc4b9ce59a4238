/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_web_trailview - a message's audit records and the chain status, on
 * real trails written by postern-audit's trail code (trail.c): plain,
 * rotated and gzip-compressed, sealed with a key, and tampered with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "milters/audit/seal.h"
#include "milters/audit/trail.h"
#include "milters/web/trailview.h"
#include "tests/unit/testlib.h"

static const char *dir;
static int serial;

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

/* record - a message record body as record.c would build it */
static char *record(int i, const char *qid, const char *mid, const char *rcpt)
{
	return pn_asprintf("{\"ts\":\"2026-12-05T07:%02d:00.000Z\",\"host\":\"mx.example\","
			   "\"event\":\"message\",\"queue_id\":\"%s\",\"client\":{\"ip\":\"192.0.2.%d\","
			   "\"name\":\"client%d.example\"},\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":"
			   "\"TLS_AES_256_GCM_SHA384\",\"bits\":256,\"verified\":true},\"envelope\":{"
			   "\"from\":\"a@partner.example\",\"rcpt\":[\"%s\"]},\"headers\":{"
			   "\"message_id\":\"%s\",\"subject\":\"<script>alert(1)</script>\"}}",
			   i % 60, qid, i % 250 + 1, i, rcpt, mid);
}

/* write_trail - n records through trail.c, record 3 about QID3/<m3@x>,
 * record 7 refused for the same message; sealed when with_key */
static char *write_trail(int n, int with_key)
{
	char *path = pn_asprintf("%s/trail-%d.jsonl", dir, ++serial), *kf = NULL;
	audit_trail_opts o;
	audit_trail *t;
	pn_buf line;
	int i;

	audit_trail_opts_init(&o);
	o.mode = 0600;
	o.sync = AUDIT_SYNC_NEVER;
	o.host = "mx.example";
	if (with_key) {
		kf = pn_asprintf("%s.key", path);
		assert_int_equal(t_write_file(kf, key, sizeof(key)), 0);
		assert_int_equal(chmod(kf, 0600), 0);
		o.key_file = kf;
	}
	t = audit_trail_open(path, &o);
	assert_non_null(t);
	pn_buf_init(&line, 0);
	for (i = 1; i <= n; i++) {
		char *b, *err = NULL;

		if (i == 7)
			b = pn_strdup("{\"ts\":\"2026-12-05T07:07:00.000Z\",\"host\":\"mx.example\","
				      "\"event\":\"refused\",\"queue_id\":\"QID3\",\"refusal\":{\"step\":"
				      "\"rcpt\",\"verdict\":\"reject\",\"by\":\"tls\"}}");
		else if (i == 3)
			b = record(i, "QID3", "<m3@x.example>", "\\\"><img src=x onerror=alert(1)>@y");
		else {
			char q[32], m[64];

			snprintf(q, sizeof(q), "QID%d", i);
			snprintf(m, sizeof(m), "<m%d@x.example>", i);
			b = record(i, q, m, "b@y.example");
		}
		if (audit_trail_append(t, b, strlen(b), &line, &err) < 0)
			fail_msg("append: %s", err);
		pn_free(b);
	}
	pn_buf_free(&line);
	audit_trail_put(t);
	pn_free(kf);
	return path;
}

static char *view(char **files, size_t n, const char *qid, const char *mid, const web_trail_opts *o)
{
	pn_buf out;
	char *err = NULL;

	pn_buf_init(&out, 0);
	if (web_trail_for_message(&out, files, n, qid, mid, o, &err) < 0)
		fail_msg("web_trail_for_message: %s", err);
	return pn_buf_steal(&out, NULL);
}

static const char *status(const char *page)
{
	const char *p = strstr(page, "<p id=\"chain-status\">");

	assert_non_null(p);
	return p + strlen("<p id=\"chain-status\">");
}

static void test_records_and_verified(void **state)
{
	char *path = write_trail(20, 0), *page;

	(void)state;
	page = view(&path, 1, "QID3", NULL, NULL);
	assert_non_null(strstr(page, "<table id=\"audit-records\">"));
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 2);
	assert_non_null(strstr(page, "<td class=\"type\">message</td>"));
	assert_non_null(strstr(page, "<td class=\"verdict\">reject by tls</td>"));
	assert_non_null(strstr(page, "TLSv1.3 TLS_AES_256_GCM_SHA384, certificate verified"));
	assert_non_null(strstr(page, "192.0.2.4 (client3.example)"));
	/* the seq of the trail: trail-start is 1, so record 3 is seq 4 */
	assert_non_null(strstr(page, "<td class=\"seq\">4</td>"));
	/* mail data escaped */
	assert_null(strstr(page, "<img"));
	assert_non_null(strstr(page, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;@y"));
	assert_true(strncmp(status(page), "verified: chain intact: 21 records", 34) == 0);
	pn_free(page);

	/* by Message-ID, with or without its brackets */
	page = view(&path, 1, NULL, "m5@x.example", NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 1);
	pn_free(page);
	page = view(&path, 1, "", "<m5@x.example>", NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 1);
	assert_non_null(strstr(page, "<td class=\"verdict\">accepted</td>"));
	pn_free(page);
	/* a queue id reused by another message: its records are not this one's */
	page = view(&path, 1, "QID3", "<m3@x.example>", NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 2);
	pn_free(page);
	page = view(&path, 1, "QID3", "<other@x.example>", NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 1);
	assert_non_null(strstr(page, "reject by tls"));
	pn_free(page);
	page = view(&path, 1, "NOSUCH", NULL, NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 0);
	assert_non_null(strstr(page, "id=\"no-records\""));
	pn_free(page);
	pn_free(path);
}

/* Somebody edits one record (a recipient) in place: the chain says FAILED. */
static void test_tampered(void **state)
{
	char *path = write_trail(12, 0), *page, *data, *p;
	size_t len;

	(void)state;
	data = t_read_file(path, &len);
	p = strstr(data, "\"rcpt\":[\"b@y.example\"]");
	assert_non_null(p);
	p[9] = 'c';	/* b@y -> c@y */
	assert_int_equal(t_write_file(path, data, len), 0);
	pn_free(data);
	page = view(&path, 1, "QID3", NULL, NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 2);
	assert_true(strncmp(status(page), "FAILED: ", 8) == 0);
	assert_non_null(strstr(status(page), path));
	pn_free(page);

	/* a file that cannot be read */
	{
		char *files[2] = { path, NULL };

		files[1] = pn_asprintf("%s/missing.jsonl", dir);
		page = view(files, 2, "QID3", NULL, NULL);
		assert_true(strncmp(status(page), "FAILED: ", 8) == 0);
		pn_free(page);
		pn_free(files[1]);
	}
	pn_free(path);
}

/* Rotated and compressed: the first half gzipped, as logrotate leaves it. */
static void test_rotated_gzip(void **state)
{
	char *path = write_trail(30, 0), *old, *page, *data, *cut, *cmd;
	char *files[2];
	size_t len;
	int i;

	(void)state;
	data = t_read_file(path, &len);
	for (cut = data, i = 0; i < 15; i++)
		cut = strchr(cut, '\n') + 1;
	old = pn_asprintf("%s.1", path);
	assert_int_equal(t_write_file(old, data, (size_t)(cut - data)), 0);
	assert_int_equal(t_write_file(path, cut, len - (size_t)(cut - data)), 0);
	cmd = pn_asprintf("gzip '%s'", old);
	assert_int_equal(system(cmd), 0);
	pn_free(cmd);
	files[0] = pn_asprintf("%s.gz", old);
	files[1] = path;
	page = view(files, 2, "QID3", NULL, NULL);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 2);
	assert_true(strncmp(status(page), "verified: chain intact: 31 records", 34) == 0);
	pn_free(page);
	pn_free(files[0]);
	pn_free(old);
	pn_free(data);
	pn_free(path);
}

/* Sealed: with the key the macs are checked; without, the hash chain only. */
static void test_sealed(void **state)
{
	char *path = write_trail(10, 1), *page;
	audit_verify_opts vo;
	web_trail_opts o;
	audit_seal seal;

	(void)state;
	assert_int_equal(audit_seal_from_bytes(key, sizeof(key), &seal), 0);
	memset(&vo, 0, sizeof(vo));
	vo.keys = &seal;
	vo.nkeys = 1;
	memset(&o, 0, sizeof(o));
	o.verify = &vo;
	page = view(&path, 1, "QID3", NULL, &o);
	if (strncmp(status(page), "verified: intact", 16) != 0)
		fail_msg("status: %.300s", status(page));
	assert_non_null(strstr(status(page), "macs checked"));
	pn_free(page);
	page = view(&path, 1, "QID3", NULL, NULL);
	assert_true(strncmp(status(page), "verified: chain intact", 22) == 0);
	assert_non_null(strstr(status(page), "NO mac checked"));
	pn_free(page);
	audit_seal_wipe(&seal);
	pn_free(path);
}

/* The line bound: the page says it did not verify, and why. */
static void test_bound(void **state)
{
	char *path = write_trail(50, 0), *page, *err = NULL;
	web_trail_opts o;
	pn_buf out;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.max_lines = 10;
	page = view(&path, 1, "QID3", NULL, &o);
	assert_true(strncmp(status(page), "not verified: the trail has more than 10 lines", 46) == 0);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 2);	/* seq 4 and 8 */
	pn_free(page);
	o.max_lines = 0;
	o.max_records = 1;
	page = view(&path, 1, "QID3", NULL, &o);
	assert_int_equal(t_count(page, "<tr class=\"record\">"), 1);
	assert_non_null(strstr(page, "1 more records not shown"));
	pn_free(page);

	pn_buf_init(&out, 0);
	assert_int_equal(web_trail_for_message(&out, &path, 1, NULL, "", NULL, &err), -1);
	assert_non_null(err);
	pn_free(err);
	assert_int_equal(web_trail_for_message(&out, NULL, 0, "QID3", NULL, NULL, &err), -1);
	pn_free(err);
	pn_buf_free(&out);
	pn_free(path);
}

static int setup(void **state)
{
	(void)state;
	dir = t_tmpdir("test_web_trailview");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	t_rmtree(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_and_verified),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_rotated_gzip),
		cmocka_unit_test(test_sealed),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
