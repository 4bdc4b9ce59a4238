/* SPDX-License-Identifier: BSD-2-Clause */
/* test_audit_notes - the notes postern-tls and postern-sort leave for the audit record
 *
 * The real engines (ptls_engine, sort_engine) run their hooks on a real
 * message as a postern-suite would call them; the test reads what they
 * noted with pn_msg_note_get(): the tls policy line, verdict and TLS
 * facts, sort's actions per recipient, and, for the attacker's messages
 * (thousands of recipients with long addresses, control bytes in a
 * folder name), that no note grows past its bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/milter/engine.h"
#include "common/milter/msg.h"
#include "milters/sort/sort_milter.h"
#include "milters/tls/tls_milter.h"
#include "tests/unit/testlib.h"

/* engine - a snapshot of engine e whose parameter param names file, written
 * with content first */
static pn_snapshot *engine(const pn_engine *e, const char *file, const char *content,
			   const char *param)
{
	const char *dir = t_tmpdir("postern-test-audit-notes");
	char *path = pn_asprintf("%s/%s", dir, file);
	char *text = pn_asprintf("%s = %s\n", param, path);
	char *err = NULL;
	pn_config *cfg;
	pn_snapshot *s;

	assert_int_equal(t_write_file(path, content, strlen(content)), 0);
	cfg = pn_config_parse(text, "test.conf", e->params, &err);
	if (cfg == NULL)
		fail_msg("config: %s", err);
	if ((s = pn_snapshot_new(e, cfg, &err)) == NULL)
		fail_msg("load: %s", err);
	pn_free(path);
	pn_free(text);
	return s;
}

/* session - a connection of snapshot s, plaintext or with TLS 1.3 */
static pn_conn *session(pn_snapshot *s, int tls)
{
	pn_conn *c = pn_conn_new(s);

	c->client_addr = pn_strdup("192.0.2.5");
	c->client_name = pn_strdup("mx.partner.example");
	c->helo = pn_strdup("mx.partner.example");
	if (tls) {
		pn_conn_set_macro(c, "{tls_version}", "TLSv1.3");
		pn_conn_set_macro(c, "{cipher}", "TLS_AES_256_GCM_SHA384");
		pn_conn_set_macro(c, "{cipher_bits}", "256");
	}
	return c;
}

/* done - the layer's end of message and connection for engine e */
static void done(const pn_engine *e, pn_conn *c, pn_msg *m)
{
	if (e->free_msg)
		e->free_msg(c, m);
	pn_msg_free(m);
	if (e->free_conn)
		e->free_conn(c);
	pn_conn_free(c);
}

static const char POLICY[] =
	"# partners\n"
	"partner.example  min_version=TLSv1.2 action=reject\n"
	"*                min_version=TLSv1.2 direction=both action=tag\n";

/* The partner's sender over TLS 1.3: its policy line, pass, the facts. */
static void test_tls_notes_pass(void **state)
{
	pn_snapshot *s = engine(&ptls_engine, "policy", POLICY, "policy_file");
	pn_conn *c = session(s, 1);
	pn_msg *m = pn_msg_new(1 << 16, "/tmp");

	(void)state;
	pn_msg_set_sender(m, "<ann@partner.example>", NULL);
	assert_int_equal(ptls_engine.on_mail(c, m), PN_CONTINUE);
	assert_string_equal(pn_msg_note_get(m, "tls", "policy"), "partner.example line 2");
	assert_string_equal(pn_msg_note_get(m, "tls", "verdict"), "pass");
	assert_non_null(strstr(pn_msg_note_get(m, "tls", "tls"), "TLSv1.3"));
	assert_null(pn_msg_note_get(m, "tls", "reason"));
	done(&ptls_engine, c, m);
	pn_snapshot_release(s);
}

/* The partner in plaintext: refused, with the requirement as the reason. */
static void test_tls_notes_reject(void **state)
{
	pn_snapshot *s = engine(&ptls_engine, "policy", POLICY, "policy_file");
	pn_conn *c = session(s, 0);
	pn_msg *m = pn_msg_new(1 << 16, "/tmp");

	(void)state;
	pn_msg_set_sender(m, "<ann@partner.example>", NULL);
	assert_int_equal(ptls_engine.on_mail(c, m), PN_REJECT);
	assert_string_equal(pn_msg_note_get(m, "tls", "verdict"), "reject");
	assert_string_equal(pn_msg_note_get(m, "tls", "tls"), "no TLS");
	assert_non_null(strstr(pn_msg_note_get(m, "tls", "reason"), "partner.example requires"));
	done(&ptls_engine, c, m);
	pn_snapshot_release(s);
}

/* The attacker's envelope: 3000 recipients with 200-byte domains, each
 * decided by the "*" entry. The rcpt note stops growing near its bound. */
static void test_tls_notes_bounded(void **state)
{
	pn_snapshot *s = engine(&ptls_engine, "policy", POLICY, "policy_file");
	pn_conn *c = session(s, 0);
	pn_msg *m = pn_msg_new(1 << 16, "/tmp");
	char label[201], *rcpt;
	size_t i;

	(void)state;
	memset(label, 'd', 200);
	label[200] = '\0';
	pn_msg_set_sender(m, "<x@elsewhere.example>", NULL);
	ptls_engine.on_mail(c, m);
	for (i = 0; i < 3000; i++) {
		rcpt = pn_asprintf("<u%zu@%.60s.%.60s.%.60s%zu.example>", i, label, label, label, i);
		pn_msg_add_rcpt(m, rcpt, NULL);
		ptls_engine.on_rcpt(c, m, &m->rcpts[m->nrcpts - 1]);
		pn_free(rcpt);
	}
	assert_true(strlen(pn_msg_note_get(m, "tls", "rcpt")) <= 200 + 8 + 80 + 10);
	assert_non_null(strstr(pn_msg_note_get(m, "tls", "rcpt"), "..."));
	assert_true(strlen(pn_msg_note_get(m, "tls", "policy")) <= 200);
	done(&ptls_engine, c, m);
	pn_snapshot_release(s);
}

static const char SIEVE[] =
	"require [\"fileinto\", \"copy\", \"envelope\"];\n"
	"if envelope :is \"to\" \"bob@example.org\" { fileinto \"Reports\"; }\n"
	"redirect :copy \"archive@example.net\";\n";

/* sort_message - a message to rcpts (space-separated), run through sort's eom */
static pn_msg *sort_message(pn_conn *c, const char *rcpts, const char *to, pn_actions *a)
{
	pn_msg *m = pn_msg_new(1 << 16, "/tmp");
	char *copy = pn_strdup(rcpts), *r, *save = NULL;
	static const char body[] = "Hi.\r\n";

	pn_msg_set_sender(m, "<ann@partner.example>", NULL);
	for (r = strtok_r(copy, " ", &save); r; r = strtok_r(NULL, " ", &save))
		pn_msg_add_rcpt(m, r, NULL);
	pn_free(copy);
	pn_msg_add_header(m, "From", " ann@partner.example");
	pn_msg_add_header(m, "To", to);
	pn_msg_add_header(m, "Subject", " figures");
	pn_msg_add_body(m, body, sizeof(body) - 1);
	sort_engine.on_eom(c, m, a);
	return m;
}

/* Two recipients: each one's actions in a line, and the verdict. */
static void test_sort_notes_per_recipient(void **state)
{
	pn_snapshot *s = engine(&sort_engine, "global.sieve", SIEVE, "script");
	pn_conn *c = session(s, 1);
	pn_actions *a = pn_actions_new();
	pn_msg *m = sort_message(c, "<bob@example.org> <carol@example.org>", " bob@example.org", a);

	(void)state;
	assert_string_equal(pn_msg_note_get(m, "sort", "actions"),
			    "bob@example.org: fileinto Reports, redirect :copy "
			    "<archive@example.net>; carol@example.org: redirect :copy "
			    "<archive@example.net>, keep (implicit)");
	assert_string_equal(pn_msg_note_get(m, "sort", "verdict"), "continue");
	assert_null(pn_msg_note_get(m, "sort", "reason"));
	pn_actions_free(a);
	done(&sort_engine, c, m);
	pn_snapshot_release(s);
}

/* 300 recipients with long addresses: the note is cut, ends in "...",
 * and holds no control byte whatever the script's folder is called. */
static void test_sort_notes_bounded(void **state)
{
	pn_snapshot *s = engine(&sort_engine, "global.sieve",
				"require \"fileinto\";\nfileinto \"F\x01\x7f\x1bX-Evil: 1\";\n",
				"script");
	pn_conn *c = session(s, 1);
	pn_actions *a = pn_actions_new();
	pn_buf rcpts;
	pn_msg *m;
	const char *note, *p;
	size_t i;

	(void)state;
	pn_buf_init(&rcpts, 0);
	for (i = 0; i < 300; i++)
		pn_buf_printf(&rcpts, "<user%zu.%0150zu@example.org> ", i, i);
	m = sort_message(c, pn_buf_str(&rcpts), " all@example.org", a);
	note = pn_msg_note_get(m, "sort", "actions");
	assert_non_null(note);
	assert_true(strlen(note) <= 400 + 5);
	assert_non_null(strstr(note, "; ..."));
	for (p = note; *p; p++)
		assert_true((unsigned char)*p >= 32);
	pn_buf_free(&rcpts);
	pn_actions_free(a);
	done(&sort_engine, c, m);
	pn_snapshot_release(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_notes_pass),
		cmocka_unit_test(test_tls_notes_reject),
		cmocka_unit_test(test_tls_notes_bounded),
		cmocka_unit_test(test_sort_notes_per_recipient),
		cmocka_unit_test(test_sort_notes_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
