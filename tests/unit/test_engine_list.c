/* SPDX-License-Identifier: BSD-2-Clause */
/* test_engine_list - several engines behind one socket (common/milter/engine_list.c)
 *
 * Two small engines, "first" and "second", stand for tls/sort/archive/audit:
 * each has its own file with the same parameter name ("word"), its own
 * on_error, and records every hook it sees in a shared log. The tests drive
 * the list engine's hooks as the milter layer (milter.c) does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/milter/daemon.h"
#include "common/milter/engine_list.h"
#include "common/milter/milter.h"
#include "tests/unit/testlib.h"

static pn_buf calls;		/* "first:mail second:mail ..." */

typedef struct word_state {
	char *word;		/* the engine's own parameter */
	const char *name;
} word_state;

static pn_verdict first_mail_answer, second_mail_answer, second_eom_answer;

static const pn_param word_params[] = {
	{"word", PN_PARAM_STR, "", 0, 0, NULL, "a word"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

static void called(const pn_conn *c, const char *hook)
{
	const word_state *st = pn_snapshot_state(c->snap);

	pn_buf_printf(&calls, "%s%s:%s", pn_buf_len(&calls) ? " " : "", st->name, hook);
}

static void *load_as(const pn_config *cfg, const char *name)
{
	word_state *st = pn_calloc(1, sizeof(*st));

	st->word = pn_strdup(pn_config_str(cfg, "word"));
	st->name = name;
	return st;
}

static void *first_load(const pn_config *cfg, char **err)
{
	(void)err;
	return load_as(cfg, "first");
}

static void *second_load(const pn_config *cfg, char **err)
{
	(void)err;
	return load_as(cfg, "second");
}

static void word_unload(void *state)
{
	word_state *st = state;

	pn_free(st->word);
	pn_free(st);
}

/* every engine keeps a counter in its own connection and message slots */
static pn_verdict word_connect(pn_conn *c)
{
	called(c, "connect");
	assert_null(c->engine_data);
	c->engine_data = pn_strdup(((word_state *)pn_snapshot_state(c->snap))->word);
	return PN_CONTINUE;
}

static pn_verdict first_mail(pn_conn *c, pn_msg *m)
{
	called(c, "mail");
	assert_null(m->engine_data);
	m->engine_data = pn_strdup("first-msg");
	if (first_mail_answer == PN_REJECT)
		pn_conn_reply(c, "550", "5.7.1", "first says no");
	return first_mail_answer;
}

static pn_verdict second_mail(pn_conn *c, pn_msg *m)
{
	called(c, "mail");
	assert_null(m->engine_data);
	m->engine_data = pn_strdup("second-msg");
	return second_mail_answer;
}

static pn_verdict word_rcpt(pn_conn *c, pn_msg *m, const pn_rcpt *r)
{
	(void)m;
	(void)r;
	called(c, "rcpt");
	return PN_CONTINUE;
}

static pn_verdict first_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	called(c, "eom");
	assert_string_equal(m->engine_data, "first-msg");
	assert_string_equal(c->engine_data, "one");
	pn_actions_add_header(a, "X-First", "1");
	pn_msg_note(m, "first", "decided", "stored");
	return PN_CONTINUE;
}

static pn_verdict second_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	called(c, "eom");
	assert_string_equal(m->engine_data, "second-msg");
	assert_string_equal(c->engine_data, "two");
	/* the first engine's note is there; its header is not (not applied yet) */
	if (first_mail_answer == PN_ACCEPT)	/* first is done: no eom, no note */
		assert_null(pn_msg_note_get(m, "first", "decided"));
	else
		assert_string_equal(pn_msg_note_get(m, "first", "decided"), "stored");
	assert_null(pn_msg_header(m, "X-First", 1));
	if (second_eom_answer == PN_TEMPFAIL) {
		pn_actions_set_reply(a, PN_TEMPFAIL, "451", "4.3.0", "second cannot write");
		return PN_TEMPFAIL;
	}
	pn_actions_add_header(a, "X-Second", "2");
	return second_eom_answer;
}

static void word_outcome(pn_conn *c, pn_msg *m, const pn_outcome *o)
{
	char hook[128];

	(void)m;
	snprintf(hook, sizeof(hook), "outcome(%s,%s,%s)", pn_verdict_name(o->verdict),
		 o->by ? o->by : "-", o->rcode ? o->rcode : "-");
	called(c, hook);
}

static void word_free_msg(pn_conn *c, pn_msg *m)
{
	(void)c;
	pn_free(m->engine_data);
	m->engine_data = NULL;
}

static void word_free_conn(pn_conn *c)
{
	pn_free(c->engine_data);
	c->engine_data = NULL;
}

static const pn_engine first_engine = {
	.name = "first", .params = word_params,
	.steps = PN_STEP_CONNECT | PN_STEP_MAIL | PN_STEP_RCPT,
	.load = first_load, .unload = word_unload,
	.on_connect = word_connect, .on_mail = first_mail, .on_rcpt = word_rcpt,
	.on_eom = first_eom, .on_outcome = word_outcome,
	.free_msg = word_free_msg, .free_conn = word_free_conn,
};

static const pn_engine second_engine = {
	.name = "second", .params = word_params,
	.steps = PN_STEP_CONNECT | PN_STEP_MAIL | PN_STEP_BODY,
	.load = second_load, .unload = word_unload,
	.on_connect = word_connect, .on_mail = second_mail, .on_rcpt = word_rcpt,
	.on_eom = second_eom, .on_outcome = word_outcome,
	.free_msg = word_free_msg, .free_conn = word_free_conn,
};

static const pn_member members[] = {
	{"first", &first_engine, "first_config", "/nonexistent/first.conf"},
	{"second", &second_engine, "second_config", "/nonexistent/second.conf"},
	{NULL, NULL, NULL, NULL}
};

static const pn_engine *list;
static pn_param *table;		/* the list's own parameters, as postern-suite reads them */
static const char *dir;

/* suite - a snapshot of the list for `engines = NAMES` */
static pn_snapshot *suite(const char *names, char **err)
{
	char *text = pn_asprintf("engines = %s\nfirst_config = %s/first.conf\n"
				 "second_config = %s/second.conf\n", names, dir, dir);
	pn_config *cfg = pn_config_parse(text, "suite.conf", table, err);
	pn_snapshot *s = NULL;

	pn_free(text);
	if (cfg)
		s = pn_snapshot_new(list, cfg, err);
	return s;
}

static int setup(void **state)
{
	char path[512];

	(void)state;
	list = pn_engine_list_define(members);
	table = pn_engine_table(list);
	dir = t_tmpdir("engine_list");
	snprintf(path, sizeof(path), "%s/first.conf", dir);
	t_write_file(path, "word = one\non_error = accept\n", 29);
	snprintf(path, sizeof(path), "%s/second.conf", dir);
	t_write_file(path, "word = two\non_error = reject\n", 29);
	pn_buf_init(&calls, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pn_free(table);
	pn_buf_free(&calls);
	return 0;
}

static void reset(void)
{
	pn_buf_free(&calls);
	pn_buf_init(&calls, 0);
	first_mail_answer = second_mail_answer = second_eom_answer = PN_CONTINUE;
}

/* start - a connection and a message as the layer makes them */
static pn_conn *start(pn_snapshot *s)
{
	pn_conn *c = pn_conn_new(s);

	assert_int_equal(list->on_connect(c), PN_CONTINUE);
	c->msg = pn_msg_new(1024, "/tmp");
	pn_msg_set_sender(c->msg, "<a@example.org>", NULL);
	return c;
}

/* finish - end the message and the connection as the layer does */
static void finish(pn_conn *c)
{
	list->free_msg(c, c->msg);
	pn_msg_free(c->msg);
	c->msg = NULL;
	list->on_close(c);
	list->free_conn(c);
	assert_null(c->engine_data);
	pn_conn_free(c);
}

static void engines_run_in_fixed_order_each_with_its_own_file(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("second, first", &err);
	pn_conn *c;

	(void)state;
	reset();
	assert_non_null(s);
	c = start(s);
	assert_int_equal(list->on_mail(c, c->msg), PN_CONTINUE);
	assert_string_equal(pn_buf_str(&calls), "first:connect second:connect first:mail "
			    "second:mail");
	finish(c);
	pn_snapshot_release(s);
}

static void first_refusal_decides_and_every_engine_is_told(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("first second", &err);
	pn_conn *c;
	pn_outcome o = {PN_STEP_MAIL, PN_REJECT, "suite", "550", "5.7.1", "first says no", NULL};

	(void)state;
	reset();
	c = start(s);
	first_mail_answer = PN_REJECT;
	assert_int_equal(list->on_mail(c, c->msg), PN_REJECT);
	/* the layer tells the list, which names the engine that refused */
	list->on_outcome(c, c->msg, &o);
	assert_string_equal(pn_buf_str(&calls), "first:connect second:connect first:mail "
			    "first:outcome(reject,first,550) second:outcome(reject,first,550)");
	finish(c);
	pn_snapshot_release(s);
}

static void an_accepting_engine_is_done_the_others_go_on(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("first second", &err);
	pn_conn *c;
	pn_actions *a = pn_actions_new();
	pn_rcpt r;

	(void)state;
	reset();
	c = start(s);
	first_mail_answer = PN_ACCEPT;
	assert_int_equal(list->on_mail(c, c->msg), PN_CONTINUE);
	memset(&r, 0, sizeof(r));
	assert_int_equal(list->on_rcpt(c, c->msg, &r), PN_CONTINUE);
	assert_int_equal(list->on_eom(c, c->msg, a), PN_CONTINUE);
	/* the first engine accepted at MAIL: no rcpt or eom for it */
	assert_string_equal(pn_buf_str(&calls), "first:connect second:connect first:mail "
			    "second:mail second:rcpt second:eom");
	assert_int_equal(pn_actions_count(a), 1);
	assert_string_equal(pn_actions_get(a, 0)->name, "X-Second");
	pn_actions_free(a);
	finish(c);
	pn_snapshot_release(s);
}

static void everyone_done_means_accept(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("first second", &err);
	pn_conn *c;

	(void)state;
	reset();
	c = start(s);
	first_mail_answer = second_mail_answer = PN_ACCEPT;
	assert_int_equal(list->on_mail(c, c->msg), PN_ACCEPT);
	finish(c);
	pn_snapshot_release(s);
}

static void actions_join_in_order_on_the_message_as_received(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("first second", &err);
	pn_conn *c;
	pn_actions *a = pn_actions_new();
	pn_outcome o = {PN_STEP_EOM, PN_CONTINUE, NULL, NULL, NULL, NULL, NULL};

	(void)state;
	reset();
	c = start(s);
	assert_int_equal(list->on_mail(c, c->msg), PN_CONTINUE);
	assert_int_equal(list->on_eom(c, c->msg, a), PN_CONTINUE);
	assert_int_equal(pn_actions_count(a), 2);
	assert_string_equal(pn_actions_get(a, 0)->name, "X-First");
	assert_string_equal(pn_actions_get(a, 1)->name, "X-Second");
	list->on_outcome(c, c->msg, &o);
	assert_non_null(strstr(pn_buf_str(&calls), "first:outcome(continue,-,-) "
			       "second:outcome(continue,-,-)"));
	pn_actions_free(a);
	finish(c);
	pn_snapshot_release(s);
}

static void a_later_failure_is_told_to_the_engine_that_stored(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("first second", &err);
	pn_conn *c;
	pn_actions *a = pn_actions_new();
	pn_outcome o = {PN_STEP_EOM, PN_TEMPFAIL, "suite", "451", "4.3.0", "second cannot write",
			NULL};

	(void)state;
	reset();
	c = start(s);
	second_eom_answer = PN_TEMPFAIL;
	assert_int_equal(list->on_mail(c, c->msg), PN_CONTINUE);
	assert_int_equal(list->on_eom(c, c->msg, a), PN_TEMPFAIL);
	/* a refused message is not modified: the first engine's header is gone */
	assert_int_equal(pn_actions_count(a), 0);
	assert_string_equal(a->rcode, "451");
	list->on_outcome(c, c->msg, &o);
	assert_non_null(strstr(pn_buf_str(&calls), "first:outcome(tempfail,second,451) "
			       "second:outcome(tempfail,second,451)"));
	pn_actions_free(a);
	finish(c);
	pn_snapshot_release(s);
}

static void an_unspooled_body_fails_only_body_readers_with_their_on_error(void **state)
{
	char *err = NULL;
	pn_snapshot *s = suite("first second", &err);
	pn_conn *c;
	pn_actions *a = pn_actions_new();

	(void)state;
	reset();
	c = start(s);
	assert_int_equal(list->on_mail(c, c->msg), PN_CONTINUE);
	c->msg->body_error = 28;	/* ENOSPC */
	/* second reads bodies and its file says on_error = reject */
	assert_int_equal(list->on_eom(c, c->msg, a), PN_REJECT);
	assert_string_equal(pn_buf_str(&calls), "first:connect second:connect first:mail "
			    "second:mail first:eom");
	pn_actions_free(a);
	finish(c);
	pn_snapshot_release(s);
}

static void configuration_errors_name_the_engine(void **state)
{
	char *err = NULL;
	char path[512];

	(void)state;
	assert_null(suite("first spam", &err));
	assert_non_null(strstr(err, "unknown engine \"spam\""));
	pn_free(err);
	err = NULL;
	snprintf(path, sizeof(path), "%s/second.conf", dir);
	t_write_file(path, "word = two\nnonsense = 1\n", 24);
	assert_null(suite("first second", &err));
	assert_non_null(strstr(err, "engine second"));
	assert_non_null(strstr(err, "nonsense"));
	pn_free(err);
	err = NULL;
	t_write_file(path, "word = two\non_error = reject\n", 29);
	assert_null(suite("", &err));
	pn_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(engines_run_in_fixed_order_each_with_its_own_file),
		cmocka_unit_test(first_refusal_decides_and_every_engine_is_told),
		cmocka_unit_test(an_accepting_engine_is_done_the_others_go_on),
		cmocka_unit_test(everyone_done_means_accept),
		cmocka_unit_test(actions_join_in_order_on_the_message_as_received),
		cmocka_unit_test(a_later_failure_is_told_to_the_engine_that_stored),
		cmocka_unit_test(an_unspooled_body_fails_only_body_readers_with_their_on_error),
		cmocka_unit_test(configuration_errors_name_the_engine),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
