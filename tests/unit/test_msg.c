/* SPDX-License-Identifier: BSD-2-Clause */
/* test_msg - message context: raw headers, rebuilt header block, file loading */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/milter/msg.h"

static void headers_rebuild_byte_for_byte(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");
	pn_buf b;

	(void)state;
	/* values as Postfix sends them with SMFIP_HDR_LEADSPC: leading space kept,
	 * folds joined by LF */
	pn_msg_add_header(m, "From", " Alice <alice@example.com>");
	pn_msg_add_header(m, "Subject", " a long\n\tfolded subject  ");
	pn_msg_add_header(m, "X-Empty", "");
	pn_msg_add_header(m, "X-Tight", "nospace");
	pn_buf_init(&b, 0);
	assert_int_equal(pn_msg_write_headers(m, &b), 0);
	assert_string_equal(pn_buf_str(&b),
		"From: Alice <alice@example.com>\r\n"
		"Subject: a long\r\n\tfolded subject  \r\n"
		"X-Empty:\r\n"
		"X-Tight:nospace\r\n\r\n");
	assert_int_equal(m->header_bytes + 2, pn_buf_len(&b));
	assert_string_equal(pn_msg_header(m, "subject", 1), "a long\n\tfolded subject  ");
	assert_string_equal(pn_msg_header(m, "X-TIGHT", 1), "nospace");
	assert_null(pn_msg_header(m, "From", 2));
	pn_buf_free(&b);
	pn_msg_free(m);
}

static void envelope_and_occurrences(void **state)
{
	pn_msg *m = pn_msg_new(1024, "/tmp");
	char *args[] = {"SIZE=100", "BODY=8BITMIME", NULL};

	(void)state;
	pn_msg_set_sender(m, "<a@example.com>", args);
	pn_msg_add_rcpt(m, "<b@example.com>", NULL);
	pn_msg_add_rcpt(m, "<c@example.com>", args + 1);
	pn_msg_add_header(m, "Received", " one");
	pn_msg_add_header(m, "Received", " two");
	assert_string_equal(m->sender, "<a@example.com>");
	assert_string_equal(m->sender_args[1], "BODY=8BITMIME");
	assert_null(m->sender_args[2]);
	assert_int_equal(m->nrcpts, 2);
	assert_string_equal(m->rcpts[1].args[0], "BODY=8BITMIME");
	assert_null(m->rcpts[0].args[0]);
	assert_string_equal(pn_msg_header(m, "received", 2), "two");
	pn_msg_free(m);
}

static void load_file_like_the_milter_sees_it(void **state)
{
	static const struct {
		const char *file;
		size_t headers;
		const char *body;
	} cases[] = {
		{"From: a@b\nSubject: hi\n\nline1\nline2\n", 2, "line1\r\nline2\r\n"},
		{"From: a@b\r\nSubject: hi\r\n\r\nline1\r\n", 2, "line1\r\n"},
		{"Subject: one\n two\nTo: x@y\n\nbody", 2, "body"},
		{"From sender@x Thu Jan  1 00:00:00 2026\nSubject: mbox\n\nb\n", 1, "b\r\n"},
		{"Subject: no body\n", 1, ""},
		{"not a header line\nbody\n", 0, "not a header line\r\nbody\r\n"},
		{"", 0, ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_msg *m = pn_msg_load(cases[i].file, strlen(cases[i].file), 1024, "/tmp");
		const char *body = pn_spool_mem(m->body);
		if (m->nheaders != cases[i].headers)
			fail_msg("case %zu: headers got %zu, want %zu", i, m->nheaders,
				 cases[i].headers);
		if (strcmp(body, cases[i].body) != 0)
			fail_msg("case %zu: body got \"%s\", want \"%s\"", i, body, cases[i].body);
		pn_msg_free(m);
	}
}

static void folded_header_from_file(void **state)
{
	const char *f = "Subject: one\n\ttwo\n\n";
	pn_msg *m = pn_msg_load(f, strlen(f), 1024, "/tmp");

	(void)state;
	assert_string_equal(m->headers[0].raw, " one\n\ttwo");
	assert_string_equal(m->headers[0].value, "one\n\ttwo");
	pn_msg_free(m);
}

static void connection_macros(void **state)
{
	pn_conn *c = pn_conn_new(NULL);

	(void)state;
	pn_conn_set_macro(c, "{tls_version}", "TLSv1.3");
	pn_conn_set_macro(c, "i", "ABC123");
	pn_conn_set_macro(c, "{mail_addr}", "a@b");
	pn_conn_set_macro(c, "{tls_version}", "TLSv1.2");
	assert_string_equal(pn_conn_macro(c, "{tls_version}"), "TLSv1.2");
	assert_string_equal(pn_conn_queue_id(c), "ABC123");
	pn_conn_forget_message_macros(c);
	assert_null(pn_conn_macro(c, "i"));
	assert_null(pn_conn_macro(c, "{mail_addr}"));
	assert_string_equal(pn_conn_macro(c, "{tls_version}"), "TLSv1.2");
	c->msg = pn_msg_new(16, "/tmp");
	c->msg->queue_id = pn_strdup("QID");
	assert_string_equal(pn_conn_queue_id(c), "QID");
	pn_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(headers_rebuild_byte_for_byte),
		cmocka_unit_test(envelope_and_occurrences),
		cmocka_unit_test(load_file_like_the_milter_sees_it),
		cmocka_unit_test(folded_header_from_file),
		cmocka_unit_test(connection_macros),
	};
	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
