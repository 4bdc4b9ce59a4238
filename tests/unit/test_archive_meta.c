/* SPDX-License-Identifier: BSD-2-Clause */
/* test_archive_meta - index fields, queries, scope and retention rules, journal records */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "milters/archive/meta.h"
#include "milters/archive/policy.h"
#include "milters/archive/query.h"
#include "milters/archive/record.h"

/* extract - run a message through the parser in chunks of chunk bytes */
static arc_delivery *extract(const char *msg, size_t chunk, size_t text_max, char **text)
{
	arc_meta *m = arc_meta_new(text_max);
	arc_delivery *d = arc_delivery_new();
	size_t len = strlen(msg), i;

	for (i = 0; i < len; i += chunk)
		arc_meta_feed(m, msg + i, len - i < chunk ? len - i : chunk);
	arc_meta_finish(m);
	arc_meta_fill(m, d);
	if (text)
		*text = pn_strdup(arc_meta_text(m, NULL));
	arc_meta_free(m);
	return d;
}

static void extracts_header_fields(void **state)
{
	static const struct {
		const char *msg;
		const char *from, *to, *cc, *subject, *message_id, *date;
	} cases[] = {
		{"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
		 "a@example.com", "b@example.org", "", "hi", "", ""},
		/* folded, encoded-words, first From counts, every To kept */
		{"From: =?ISO-8859-1?Q?J=F6rg?= <j@example.de>\r\nFrom: second@example.com\r\n"
		 "To: x@example.org,\r\n y@example.org\r\nTo: z@example.org\r\n"
		 "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n =?UTF-8?Q?_au_lait?=\r\n"
		 "Message-ID:\r\n <id-1@example.de>\r\nDate: Tue, 2 Jan 2024 08:00:00 +0100\r\n\r\n",
		 "Jörg <j@example.de>", "x@example.org, y@example.org, z@example.org", "",
		 "café au lait", "<id-1@example.de>", "Tue, 2 Jan 2024 08:00:00 +0100"},
		/* LF line ends, Cc, case of names ignored */
		{"FROM: a@x.example\nCC: c@x.example\nsubject: lf\n\nbody\n",
		 "a@x.example", "", "c@x.example", "lf", "", ""},
		/* no headers at all */
		{"\r\nonly a body\r\n", "", "", "", "", "", ""},
		/* a line that is not a header ends the header section */
		{"Subject: s\r\nnot a header line\r\nTo: late@example.org\r\n\r\n",
		 "", "", "", "s", "", ""},
		/* 8-bit UTF-8 subject (RFC 6532), control characters removed */
		{"Subject: Grüße\tan alle\r\n\r\n", "", "", "", "Grüße an alle", "", ""},
	};
	static const size_t chunks[] = {1, 2, 7, 4096};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			arc_delivery *d = extract(cases[i].msg, chunks[j], 0, NULL);
			const char *got[] = {d->hdr_from, d->hdr_to, d->hdr_cc, d->subject,
					     d->message_id, d->hdr_date};
			const char *want[] = {cases[i].from, cases[i].to, cases[i].cc,
					      cases[i].subject, cases[i].message_id, cases[i].date};
			size_t k;
			for (k = 0; k < 6; k++)
				if (strcmp(got[k], want[k]) != 0)
					fail_msg("case %zu chunk %zu field %zu: got \"%s\", want \"%s\"",
						 i, chunks[j], k, got[k], want[k]);
			arc_delivery_free(d);
		}
	}
}

static void extracts_attachment_names_and_text(void **state)
{
	static const char msg[] =
		"From: a@example.com\r\n"
		"Content-Type: multipart/mixed; boundary=X\r\n\r\n"
		"--X\r\n"
		"Content-Type: multipart/alternative; boundary=Y\r\n\r\n"
		"--Y\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"Gr=FC=DFe aus K=F6ln\r\n"
		"--Y\r\nContent-Type: text/html\r\n\r\n<p>html copy</p>\r\n"
		"--Y--\r\n"
		"--X\r\nContent-Type: application/octet-stream\r\n"
		"Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC-plan.xlsx\r\n\r\n"
		"xx\r\n"
		"--X\r\nContent-Type: image/png; name=\"=?UTF-8?B?QmlsZC5wbmc=?=\"\r\n\r\nyy\r\n"
		"--X--\r\n";
	char *text;
	arc_delivery *d = extract(msg, 5, 4096, &text);

	(void)state;
	assert_int_equal(d->nattachments, 2);
	assert_string_equal(d->attachments[0], "€-plan.xlsx");
	assert_string_equal(d->attachments[1], "Bild.png");
	if (strstr(text, "Grüße aus Köln") == NULL || strstr(text, "html copy") != NULL)
		fail_msg("text: got \"%s\", want the plain part only, decoded", text);
	pn_free(text);
	arc_delivery_free(d);

	/* HTML alone is indexed without its tags; text_max bounds it */
	d = extract("Content-Type: text/html\r\n\r\n<b>bold</b> words and more words\r\n", 3, 12,
		    &text);
	if (strlen(text) > 12 || strstr(text, "<b>") || strstr(text, "bold") == NULL)
		fail_msg("html text: got \"%s\", want at most 12 bytes without tags", text);
	pn_free(text);
	arc_delivery_free(d);
}

static void parses_times_sizes_and_keys(void **state)
{
	static const struct {
		const char *in;
		int ok;
		long long want;
	} times[] = {
		{"2024-01-02", 1, 1704153600},
		{"2024-01-02T03:04:05Z", 1, 1704164645},
		{"2024-01-02 03:04", 1, 1704164640},
		{"@1700000000", 1, 1700000000},
		{"2024-13-01", 0, 0},
		{"yesterday", 0, 0},
		{"2024-01-02T03", 0, 0},
	};
	static const struct {
		const char *in;
		int ok;
		long long want;
	} sizes[] = {
		{"100", 1, 100}, {"2k", 1, 2048}, {"20M", 1, 20971520}, {"1g", 1, 1073741824},
		{"-1", 0, 0}, {"5x", 0, 0}, {"", 0, 0},
	};
	static const struct {
		const char *key;
		arc_key_kind kind;
	} keys[] = {
		{"20240102030405-0123abcd", ARC_KEY_ID},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ARC_KEY_SHA256},
		{"e3b0c442", ARC_KEY_SHA_PREFIX},
		{"<abc@example.com>", ARC_KEY_MESSAGE_ID},
		{"abc@example.com", ARC_KEY_MESSAGE_ID},
		{"e3b0", ARC_KEY_BAD},
		{"hello", ARC_KEY_BAD},
	};
	size_t i;
	long long v;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int ok = arc_parse_time(times[i].in, &v) == 0;
		if (ok != times[i].ok || (ok && v != times[i].want))
			fail_msg("time \"%s\": got ok=%d %lld, want ok=%d %lld", times[i].in, ok, v,
				 times[i].ok, times[i].want);
	}
	assert_int_equal(arc_parse_time("7d", &v), 0);
	assert_true(v <= (long long)time(NULL) - 7 * 86400 && v > (long long)time(NULL) - 8 * 86400);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int ok = arc_parse_size(sizes[i].in, &v) == 0;
		if (ok != sizes[i].ok || (ok && v != sizes[i].want))
			fail_msg("size \"%s\": got ok=%d %lld, want ok=%d %lld", sizes[i].in, ok, v,
				 sizes[i].ok, sizes[i].want);
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (arc_key_classify(keys[i].key) != keys[i].kind)
			fail_msg("key \"%s\": got kind %d, want %d", keys[i].key,
				 arc_key_classify(keys[i].key), keys[i].kind);
	s = arc_message_id_normal(" abc@x ");
	assert_string_equal(s, "<abc@x>");
	pn_free(s);
	/* user text can never become FTS5 syntax */
	s = arc_fts_phrase("foo  \"bar\" OR NEAR(x)");
	assert_string_equal(s, "\"foo\" \"\"\"bar\"\"\" \"OR\" \"NEAR(x)\"");
	pn_free(s);
}

static void applies_scope_rules(void **state)
{
	static const struct {
		arc_policy_spec spec;
		const char *sender;
		const char *rcpts[3];
		const char *auth, *client;
		int want;
		const char *why;
	} cases[] = {
		{{"", "", "", "both", ""}, "a@x.example", {"b@y.example"}, "", "192.0.2.1", 1, NULL},
		{{"corp.example", "", "", "both", ""}, "a@x.example", {"b@y.example"}, "", "", 0,
		 "include_domains"},
		{{"corp.example", "", "", "both", ""}, "a@x.example", {"b@y.example", "c@CORP.example"},
		 "", "", 1, NULL},
		{{".corp.example", "", "", "both", ""}, "a@mail.corp.example", {"b@y.example"}, "", "",
		 1, NULL},
		{{"", "noise.example", "", "both", ""}, "alerts@noise.example", {"b@y.example"}, "", "",
		 0, "exclude_sender_domains"},
		{{"", "", "lists.example", "both", ""}, "a@x.example",
		 {"l1@lists.example", "l2@lists.example"}, "", "", 0, "exclude_recipient_domains"},
		{{"", "", "lists.example", "both", ""}, "a@x.example",
		 {"l1@lists.example", "b@y.example"}, "", "", 1, NULL},
		{{"", "", "", "outbound", "10.0.0.0/8"}, "a@x.example", {"b@y.example"}, "",
		 "10.1.2.3", 1, NULL},
		{{"", "", "", "outbound", "10.0.0.0/8"}, "a@x.example", {"b@y.example"}, "",
		 "192.0.2.1", 0, "direction"},
		{{"", "", "", "outbound", ""}, "a@x.example", {"b@y.example"}, "alice", "192.0.2.1", 1,
		 NULL},
		{{"", "", "", "inbound", ""}, "a@x.example", {"b@y.example"}, "alice", "192.0.2.1", 0,
		 "direction"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		arc_policy *p = arc_policy_new(&cases[i].spec, &err);
		size_t n = 0;
		const char *why, *dir;
		int got;

		if (p == NULL)
			fail_msg("case %zu: %s", i, err);
		while (n < 3 && cases[i].rcpts[n])
			n++;
		dir = arc_policy_direction(p, cases[i].auth, cases[i].client);
		got = arc_policy_in_scope(p, cases[i].sender, (char **)cases[i].rcpts, n, dir, &why);
		if (got != cases[i].want || (why == NULL) != (cases[i].why == NULL)
		    || (why && strcmp(why, cases[i].why) != 0))
			fail_msg("case %zu: got %d (%s), want %d (%s)", i, got, why ? why : "-",
				 cases[i].want, cases[i].why ? cases[i].why : "-");
		arc_policy_free(p);
	}
}

static void rejects_bad_rules(void **state)
{
	static const arc_policy_spec bad[] = {
		{"exa mple..com", "", "", "both", ""},
		{"", "", "", "sideways", ""},
		{"", "", "", "both", "10.0.0.1/8"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;
		arc_policy *p = arc_policy_new(&bad[i], &err);
		if (p != NULL || err == NULL)
			fail_msg("case %zu: got a policy, want an error", i);
		pn_free(err);
	}
}

static void computes_retention(void **state)
{
	static const struct {
		const char *in;
		int ok;
		long long now, cutoff;
	} cases[] = {
		{"0", 1, 1700000000, -1},
		{"30d", 1, 1700000000, 1700000000 - 30 * 86400LL},
		{"2w", 1, 1700000000, 1700000000 - 14 * 86400LL},
		{"10y", 1, 1709294400, 1393675200},	/* 2024-03-01 12:00 -> 2014-03-01 12:00 */
		{"10", 0, 0, 0}, {"y", 0, 0, 0}, {"5m", 0, 0, 0}, {"-1y", 0, 0, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		arc_retention r;
		char *err = NULL;
		int ok = arc_retention_parse(cases[i].in, &r, &err) == 0;
		pn_free(err);
		if (ok != cases[i].ok)
			fail_msg("\"%s\": got ok=%d, want %d", cases[i].in, ok, cases[i].ok);
		if (ok && arc_retention_cutoff(&r, cases[i].now) != cases[i].cutoff)
			fail_msg("\"%s\": got cutoff %lld, want %lld", cases[i].in,
				 arc_retention_cutoff(&r, cases[i].now), cases[i].cutoff);
	}
}

static void journal_records_round_trip(void **state)
{
	arc_delivery *d = arc_delivery_new();
	arc_record r, back;
	char *line, *again;

	(void)state;
	memset(&r, 0, sizeof(r));
	pn_free(d->id);
	d->id = pn_strdup("20240102030405-0123abcd");
	pn_free(d->sha256);
	d->sha256 = pn_strdup("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	pn_free(d->subject);
	d->subject = pn_strdup("quote \" slash / newline-free ü");
	d->time = 1704164645;
	d->size = 1234;
	arc_delivery_add_rcpt(d, "a@example.org");
	arc_delivery_add_rcpt(d, "bcc@example.net");
	arc_delivery_add_attachment(d, "x.pdf");
	r.type = ARC_REC_DELIVERY;
	r.delivery = d;
	line = arc_record_json(&r);
	assert_null(strchr(line, '\n'));
	assert_int_equal(arc_record_parse(line, strlen(line), &back), 0);
	assert_int_equal(back.type, ARC_REC_DELIVERY);
	again = arc_record_json(&back);
	assert_string_equal(again, line);
	arc_record_clear(&back);
	pn_free(again);
	pn_free(line);
	arc_delivery_free(d);
	/* not records */
	assert_int_equal(arc_record_parse("{\"type\":\"delivery\"}", 19, &back), -1);
	assert_int_equal(arc_record_parse("{\"type\":\"nonsense\"}", 19, &back), -1);
	assert_int_equal(arc_record_parse("[1,2]", 5, &back), -1);
	assert_int_equal(arc_record_parse("{\"type\":\"deliv", 14, &back), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(extracts_header_fields),
		cmocka_unit_test(extracts_attachment_names_and_text),
		cmocka_unit_test(parses_times_sizes_and_keys),
		cmocka_unit_test(applies_scope_rules),
		cmocka_unit_test(rejects_bad_rules),
		cmocka_unit_test(computes_retention),
		cmocka_unit_test(journal_records_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
