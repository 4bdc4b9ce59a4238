/* SPDX-License-Identifier: BSD-2-Clause */
/* test_audit_outcome - audit_engine's hooks as the milter layer calls them
 *
 * Each test builds a connection and a message with the real msg.h
 * context and a real snapshot of the audit engine writing a trail in a
 * temporary directory, writes the notes other engines would have written
 * in a postern-suite (pn_msg_note), calls the hooks in the order the
 * layer does (on_outcome for a refusal at its step, on_eom, on_outcome
 * at end of message, on_abort, on_close) and reads the trail back: which
 * records, what they say, and that `verify` accepts them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/milter/engine.h"
#include "common/milter/msg.h"
#include "milters/audit/audit_milter.h"
#include "milters/audit/state.h"
#include "milters/audit/verify.h"
#include "tests/unit/testlib.h"

typedef struct fixture {
	char trail[512];
	pn_snapshot *snap;
	pn_conn *c;
} fixture;

static int setup(void **state)
{
	static unsigned n;
	fixture *fx = pn_calloc(1, sizeof(*fx));
	const char *dir = t_tmpdir("postern-test-audit-outcome");
	char *text, *err = NULL;
	pn_config *cfg;

	/* a trail of its own per test: the registry keeps trails by path */
	snprintf(fx->trail, sizeof(fx->trail), "%s/trail-%u.jsonl", dir, n++);
	text = pn_asprintf("trail_file = %s\nhost_name = mx.test\n", fx->trail);
	cfg = pn_config_parse(text, "test.conf", audit_params, &err);
	pn_free(text);
	if (cfg == NULL)
		fail_msg("config: %s", err);
	fx->snap = pn_snapshot_new(&audit_engine, cfg, &err);
	if (fx->snap == NULL)
		fail_msg("snapshot: %s", err);
	fx->c = pn_conn_new(fx->snap);
	fx->c->client_addr = pn_strdup("192.0.2.44");
	fx->c->client_name = pn_strdup("mail.partner.example");
	fx->c->client_port = 41000;
	fx->c->helo = pn_strdup("mail.partner.example");
	*state = fx;
	return 0;
}

/* close_conn - what the layer does when the connection ends */
static void close_conn(fixture *fx)
{
	pn_conn *c = fx->c;

	if (c->msg) {
		audit_engine.on_abort(c, c->msg);
		audit_engine.free_msg(c, c->msg);
		pn_msg_free(c->msg);
		c->msg = NULL;
	}
	audit_engine.on_close(c);
	audit_engine.free_conn(c);
	pn_conn_free(c);
	fx->c = NULL;
}

static int teardown(void **state)
{
	fixture *fx = *state;

	if (fx->c)
		close_conn(fx);
	pn_snapshot_release(fx->snap);
	pn_free(fx);
	return 0;
}

/* start_msg - MAIL FROM as the layer records it */
static pn_msg *start_msg(fixture *fx, const char *sender)
{
	pn_msg *m = pn_msg_new(1 << 20, "/tmp");

	pn_msg_set_sender(m, sender, NULL);
	fx->c->msg = m;
	fx->c->messages++;
	return m;
}

/* add_content - headers and body, as they arrive after DATA */
static void add_content(pn_msg *m)
{
	static const char body[] = "Hello.\r\n";

	pn_msg_add_header(m, "From", " Partner <ann@partner.example>");
	pn_msg_add_header(m, "To", " bob@example.org");
	pn_msg_add_header(m, "Subject", " quarterly figures");
	pn_msg_add_header(m, "Message-ID", " <q4@partner.example>");
	assert_int_equal(pn_msg_add_body(m, body, sizeof(body) - 1), 0);
}

/* end_msg - end of message: on_eom (unless an earlier engine refused), the
 * outcome, the message freed */
static void end_msg(fixture *fx, int eom, pn_verdict v, const char *by, const char *rcode,
		    const char *xcode, const char *text)
{
	pn_conn *c = fx->c;
	pn_actions *a = pn_actions_new();
	pn_outcome o;

	if (eom)
		assert_int_equal(audit_engine.on_eom(c, c->msg, a), PN_CONTINUE);
	memset(&o, 0, sizeof(o));
	o.step = PN_STEP_EOM;
	o.verdict = v;
	o.by = by;
	o.rcode = rcode;
	o.xcode = xcode;
	o.text = text;
	audit_engine.on_outcome(c, c->msg, &o);
	audit_engine.free_msg(c, c->msg);
	pn_msg_free(c->msg);
	c->msg = NULL;
	pn_actions_free(a);
}

/* refuse - an engine refused at step (the recipient r at RCPT) */
static void refuse(fixture *fx, unsigned step, const char *by, const pn_rcpt *r,
		   const char *rcode, const char *xcode, const char *text)
{
	pn_outcome o;

	memset(&o, 0, sizeof(o));
	o.step = step;
	o.verdict = rcode[0] == '4' ? PN_TEMPFAIL : PN_REJECT;
	o.by = by;
	o.rcpt = r;
	o.rcode = rcode;
	o.xcode = xcode;
	o.text = text;
	audit_engine.on_outcome(fx->c, fx->c->msg, &o);
}

/* trail - the trail's records after the trail-start, parsed; *n their count */
static json_object **trail(const fixture *fx, size_t *n)
{
	char *data = t_read_file(fx->trail, NULL), *line, *save = NULL;
	json_object **v = pn_calloc(64, sizeof(*v));

	*n = 0;
	assert_non_null(data);
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line), *ev;
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "event", &ev));
		if (strcmp(json_object_get_string(ev), "trail-start") == 0) {
			json_object_put(o);
			continue;
		}
		assert_true(*n < 63);
		v[(*n)++] = o;
	}
	pn_free(data);
	return v;
}

static void trail_free(json_object **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_object_put(v[i]);
	pn_free(v);
}

/* at - a member by dotted path as a string ("" when absent, numbers printed) */
static const char *at(json_object *o, const char *path)
{
	char buf[256], *p, *save = NULL;
	json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = strtok_r(buf, ".", &save); p && v; p = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(v, json_type_array))
			v = json_object_array_get_idx(v, (size_t)atoi(p));
		else if (!json_object_object_get_ex(v, p, &v))
			v = NULL;
	}
	return v ? json_object_get_string(v) : "";
}

/* has - the member exists */
static int has(json_object *o, const char *path)
{
	return *at(o, path) != '\0';
}

/* verified - `postern-audit verify` accepts the trail */
static void verified(const fixture *fx)
{
	char *files[] = {(char *)fx->trail, NULL};
	FILE *out = tmpfile();
	audit_verify_opts vo;

	memset(&vo, 0, sizeof(vo));
	vo.no_key = 1;
	assert_int_equal(audit_verify_ex(files, 1, &vo, out), 0);
	fclose(out);
}

/* Suite: postern-tls refuses plaintext from a partner at MAIL FROM. The
 * trail has one refused record that says who, why and what was tried; the
 * attempt leaves no "aborted" record and the connection no "connection"
 * record besides it. */
static void test_tls_refusal_at_mail(void **state)
{
	fixture *fx = *state;
	pn_msg *m = start_msg(fx, "<ann@partner.example>");
	json_object **r;
	size_t n;

	pn_conn_set_macro(fx->c, "i", "4QMAIL1");
	pn_msg_note(m, "tls", "policy", "partner.example line 3");
	pn_msg_note(m, "tls", "verdict", "reject");
	pn_msg_note(m, "tls", "tls", "no TLS");
	pn_msg_note(m, "tls", "reason", "partner.example requires tls");
	refuse(fx, PN_STEP_MAIL, "tls", NULL, "550", "5.7.1", "TLS required for partner.example");
	close_conn(fx);

	r = trail(fx, &n);
	assert_int_equal(n, 1);
	assert_string_equal(at(r[0], "event"), "refused");
	assert_string_equal(at(r[0], "queue_id"), "4QMAIL1");
	assert_string_equal(at(r[0], "client.ip"), "192.0.2.44");
	assert_string_equal(at(r[0], "client.helo"), "mail.partner.example");
	assert_string_equal(at(r[0], "envelope.from"), "ann@partner.example");
	assert_string_equal(at(r[0], "refusal.step"), "mail");
	assert_string_equal(at(r[0], "refusal.verdict"), "reject");
	assert_string_equal(at(r[0], "refusal.by"), "tls");
	assert_string_equal(at(r[0], "refusal.code"), "550");
	assert_string_equal(at(r[0], "refusal.xcode"), "5.7.1");
	assert_string_equal(at(r[0], "refusal.text"), "TLS required for partner.example");
	assert_string_equal(at(r[0], "refusal.reason"), "partner.example requires tls");
	assert_string_equal(at(r[0], "engines.tls.policy"), "partner.example line 3");
	assert_string_equal(at(r[0], "engines.tls.verdict"), "reject");
	assert_false(has(r[0], "headers"));
	assert_false(has(r[0], "sha256"));
	trail_free(r, n);
	verified(fx);
}

/* Suite: one recipient refused at RCPT, the other delivered. A refused
 * record names only the refused recipient; the message record carries the
 * notes of every engine and the recipient that stayed. */
static void test_rcpt_refusal_then_delivery(void **state)
{
	fixture *fx = *state;
	pn_msg *m = start_msg(fx, "<ann@partner.example>");
	json_object **r;
	size_t n;

	pn_msg_note(m, "tls", "policy", "none");
	pn_msg_note(m, "tls", "verdict", "none");
	pn_msg_add_rcpt(m, "<secret@bank.example>", NULL);
	pn_msg_note(m, "tls", "reason", "bank.example requires TLSv1.2");
	refuse(fx, PN_STEP_RCPT, "tls", &m->rcpts[0], "450", "4.7.1", "TLS required");
	pn_msg_drop_last_rcpt(m);
	pn_msg_add_rcpt(m, "<bob@example.org>", NULL);
	m->queue_id = pn_strdup("4QRCPT2");
	add_content(m);
	pn_msg_note(m, "sort", "actions", "bob@example.org: fileinto Reports");
	pn_msg_note(m, "sort", "verdict", "continue");
	pn_msg_note(m, "archive", "id", "20261205-0001");
	pn_msg_note(m, "archive", "sha256", "ab12");
	end_msg(fx, 1, PN_CONTINUE, NULL, NULL, NULL, NULL);
	close_conn(fx);

	r = trail(fx, &n);
	assert_int_equal(n, 2);
	assert_string_equal(at(r[0], "event"), "refused");
	assert_string_equal(at(r[0], "refusal.step"), "rcpt");
	assert_string_equal(at(r[0], "refusal.verdict"), "tempfail");
	assert_string_equal(at(r[0], "envelope.rcpt.0"), "secret@bank.example");
	assert_false(has(r[0], "envelope.rcpt.1"));
	assert_string_equal(at(r[1], "event"), "message");
	assert_string_equal(at(r[1], "queue_id"), "4QRCPT2");
	assert_string_equal(at(r[1], "envelope.rcpt.0"), "bob@example.org");
	assert_false(has(r[1], "envelope.rcpt.1"));
	assert_string_equal(at(r[1], "engines.tls.policy"), "none");
	assert_string_equal(at(r[1], "engines.sort.actions"), "bob@example.org: fileinto Reports");
	assert_string_equal(at(r[1], "engines.archive.id"), "20261205-0001");
	assert_string_equal(at(r[1], "engines.archive.sha256"), "ab12");
	assert_false(has(r[1], "refusal"));
	trail_free(r, n);
	verified(fx);
}

/* Suite: a Sieve reject at end of message, before audit's turn. One
 * refused record with the headers and sort's reason, no message record. */
static void test_sort_reject_at_eom(void **state)
{
	fixture *fx = *state;
	pn_msg *m = start_msg(fx, "<spam@elsewhere.example>");
	json_object **r;
	size_t n;

	pn_msg_add_rcpt(m, "<bob@example.org>", NULL);
	m->queue_id = pn_strdup("4QSORT3");
	add_content(m);
	pn_msg_note(m, "sort", "actions", "bob@example.org: reject");
	pn_msg_note(m, "sort", "verdict", "reject");
	pn_msg_note(m, "sort", "reason", "no thanks");
	end_msg(fx, 0, PN_REJECT, "sort", "550", "5.7.1", "no thanks");
	close_conn(fx);

	r = trail(fx, &n);
	assert_int_equal(n, 1);
	assert_string_equal(at(r[0], "event"), "refused");
	assert_string_equal(at(r[0], "queue_id"), "4QSORT3");
	assert_string_equal(at(r[0], "refusal.step"), "eom");
	assert_string_equal(at(r[0], "refusal.by"), "sort");
	assert_string_equal(at(r[0], "refusal.reason"), "no thanks");
	assert_string_equal(at(r[0], "headers.subject"), "quarterly figures");
	assert_string_equal(at(r[0], "envelope.rcpt.0"), "bob@example.org");
	assert_string_equal(at(r[0], "engines.sort.verdict"), "reject");
	trail_free(r, n);
	verified(fx);
}

/* The layer tempfails after audit wrote its record (a later modification
 * failed): an outcome record corrects it, naming the record's seq. */
static void test_outcome_after_record(void **state)
{
	fixture *fx = *state;
	pn_msg *m = start_msg(fx, "<ann@partner.example>");
	json_object **r;
	size_t n;

	pn_msg_add_rcpt(m, "<bob@example.org>", NULL);
	m->queue_id = pn_strdup("4QLATE4");
	add_content(m);
	end_msg(fx, 1, PN_TEMPFAIL, NULL, "451", "4.3.0", "Temporary local problem");
	close_conn(fx);

	r = trail(fx, &n);
	assert_int_equal(n, 2);
	assert_string_equal(at(r[0], "event"), "message");
	assert_string_equal(at(r[1], "event"), "outcome");
	assert_string_equal(at(r[1], "queue_id"), "4QLATE4");
	assert_string_equal(at(r[1], "corrects_seq"), at(r[0], "seq"));
	assert_string_equal(at(r[1], "refusal.verdict"), "tempfail");
	assert_string_equal(at(r[1], "refusal.by"), "milter");
	assert_string_equal(at(r[1], "refusal.code"), "451");
	/* audit's own note: the seq of its record */
	assert_string_equal(at(r[1], "engines.audit.seq"), at(r[0], "seq"));
	trail_free(r, n);
	verified(fx);
}

/* A standalone postern-audit: no notes, no refusal, the records as before. */
static void test_standalone_record_unchanged(void **state)
{
	fixture *fx = *state;
	pn_msg *m = start_msg(fx, "<ann@partner.example>");
	json_object **r;
	size_t n;

	pn_msg_add_rcpt(m, "<bob@example.org>", NULL);
	m->queue_id = pn_strdup("4QALONE5");
	add_content(m);
	/* no engine before audit: audit is the only one to note */
	end_msg(fx, 1, PN_CONTINUE, NULL, NULL, NULL, NULL);
	close_conn(fx);

	r = trail(fx, &n);
	assert_int_equal(n, 1);
	assert_string_equal(at(r[0], "event"), "message");
	assert_false(has(r[0], "engines"));
	assert_false(has(r[0], "refusal"));
	assert_false(has(r[0], "corrects_seq"));
	trail_free(r, n);
	verified(fx);
}

/* A connection refused at HELO: a refused record, and no extra connection
 * record at close. */
static void test_helo_refusal(void **state)
{
	fixture *fx = *state;
	json_object **r;
	size_t n;

	refuse(fx, PN_STEP_HELO, "tls", NULL, "554", "5.7.1", "go away");
	close_conn(fx);
	r = trail(fx, &n);
	assert_int_equal(n, 1);
	assert_string_equal(at(r[0], "event"), "refused");
	assert_string_equal(at(r[0], "refusal.step"), "helo");
	assert_false(has(r[0], "envelope"));
	trail_free(r, n);
	verified(fx);
}

/* The attacker's notes: a huge value, a flood of keys, control bytes and
 * invalid UTF-8 in values and names. The record stays bounded and valid. */
static void test_notes_bounded(void **state)
{
	fixture *fx = *state;
	pn_msg *m = start_msg(fx, "<ann@partner.example>");
	char *big = pn_malloc(100001), key[32];
	json_object **r, *eng, *sort;
	size_t n, i, total = 0;

	memset(big, 'x', 100000);
	big[100000] = '\0';
	pn_msg_add_rcpt(m, "<bob@example.org>", NULL);
	add_content(m);
	pn_msg_note(m, "sort", "actions", big);
	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		pn_msg_note(m, "sort", key, "v\r\n\x01\xff");
	}
	pn_msg_note(m, "bad\xff", "key\xfe", "value");
	end_msg(fx, 1, PN_CONTINUE, NULL, NULL, NULL, NULL);
	pn_free(big);
	close_conn(fx);

	r = trail(fx, &n);
	assert_int_equal(n, 1);
	assert_true(json_object_object_get_ex(r[0], "engines", &eng));
	assert_true(json_object_object_get_ex(eng, "sort", &sort));
	assert_true(strlen(at(r[0], "engines.sort.actions")) <= 512);
	json_object_object_foreach(eng, name, notes) {
		(void)name;
		total += (size_t)json_object_object_length(notes);
	}
	assert_true(total <= 64);
	assert_true(strlen(json_object_to_json_string(r[0])) < 64 * 1024);
	trail_free(r, n);
	verified(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_refusal_at_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_refusal_then_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_reject_at_eom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outcome_after_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standalone_record_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helo_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notes_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
