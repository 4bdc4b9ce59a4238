/* SPDX-License-Identifier: BSD-2-Clause */
/* test_archive_engine - archive_engine's hooks as the milter layer calls them:
 * end of message stores, a later refusal voids, the message's story */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/milter/daemon.h"
#include "common/milter/engine.h"
#include "milters/archive/archive_milter.h"
#include "tests/unit/testlib.h"

static char dir[64];

static const pn_daemon daemon_def = {
	.name = "postern-archive",
	.default_socket = "unix:/tmp/unused.sock",
	.engine = &archive_engine,
};

static const char MSG[] =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: Quarterly figures\n"
	"Message-ID: <%s@example.com>\n"
	"\n"
	"The %s division looks good.\n";

/* snapshot - the engine loaded from configuration text (@ = test directory) */
static pn_snapshot *snapshot(const char *extra)
{
	char *text = pn_asprintf("archive_directory = %s/archive\nfulltext = text\n%s", dir,
				 extra ? extra : "");
	char *err = NULL;
	pn_config *cfg = pn_config_parse(text, "archive.conf", pn_daemon_table(&daemon_def), &err);
	pn_snapshot *s;

	if (cfg == NULL)
		fail_msg("config: %s", err);
	s = pn_snapshot_new(&archive_engine, cfg, &err);
	if (s == NULL)
		fail_msg("load: %s", err);
	pn_free(text);
	return s;
}

/* message - a connection with one message from alice to bob; word makes it unique */
static pn_conn *message(pn_snapshot *s, const char *word)
{
	pn_conn *c = pn_conn_new(s);
	char *text = pn_asprintf(MSG, word, word);
	pn_msg *m = pn_msg_load(text, strlen(text), 1 << 20, "/tmp");

	c->client_addr = pn_strdup("192.0.2.1");
	c->client_name = pn_strdup("mail.example.com");
	pn_msg_set_sender(m, "<alice@example.com>", NULL);
	pn_msg_add_rcpt(m, "<bob@example.org>", NULL);
	m->queue_id = pn_strdup("4QID");
	c->msg = m;
	pn_free(text);
	return c;
}

/* end_message - on_eom, then the final verdict as the layer tells it */
static pn_verdict end_message(pn_conn *c, pn_verdict final, const char *by)
{
	pn_actions *a = pn_actions_new();
	pn_verdict v = archive_engine.on_eom(c, c->msg, a);
	pn_outcome o;

	pn_actions_free(a);
	memset(&o, 0, sizeof(o));
	o.step = PN_STEP_EOM;
	o.verdict = v == PN_CONTINUE ? final : v;
	o.by = v == PN_CONTINUE ? by : "archive";
	if (o.verdict == PN_TEMPFAIL) {
		o.rcode = "451";
		o.xcode = "4.3.0";
		o.text = "Audit trail unavailable";
	}
	/* the hook the layer calls: the old engine had none */
	assert_non_null(archive_engine.on_outcome);
	archive_engine.on_outcome(c, c->msg, &o);
	return v;
}

/* finish - free the message and the connection as the layer does */
static void finish(pn_conn *c)
{
	if (archive_engine.free_msg)
		archive_engine.free_msg(c, c->msg);
	c->msg->engine_data = NULL;
	pn_conn_free(c);
}

/* count_row - arc_row_fn that counts */
static int count_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	(void)d; (void)row;
	(*(size_t *)ctx)++;
	return 0;
}

/* search - how many deliveries a tool sees (its own handle, as `search` opens it) */
static size_t search(pn_snapshot *s, const char *option, const char *value)
{
	arc_settings set;
	arc_archive *a;
	arc_query q;
	char *err = NULL;
	size_t n = 0;

	assert_int_equal(archive_settings(pn_snapshot_config(s), &set, &err), 0);
	a = arc_archive_open(&set, &err);
	if (a == NULL)
		fail_msg("open: %s", err);
	arc_query_init(&q);
	if (option && strcmp(option, "key") == 0)
		arc_query_add_key(&q, value);
	else if (option && arc_query_set(&q, option, value, &err) < 0)
		fail_msg("query: %s", err);
	if (arc_index_search(a->index, &q, count_row, &n, &err) < 0)
		fail_msg("search: %s", err);
	arc_query_clear(&q);
	arc_archive_close(a);
	return n;
}

/* other_process_catch_up - the index brought up to date with the journal
 * as another process's tool does at open (it knows of no awaited outcome) */
static void other_process_catch_up(void)
{
	char *root = pn_asprintf("%s/archive", dir), *db = pn_asprintf("%s/index.db", root);
	char *err = NULL;
	arc_index *x = arc_index_open(db, 2, 2000, NULL, &err);
	arc_journal *j = arc_journal_open(root, NULL, 2000, &err);

	if (x == NULL || j == NULL)
		fail_msg("open: %s", err);
	if (arc_index_catch_up(x, j, NULL, NULL, NULL, &err) < 0)
		fail_msg("catch-up: %s", err);
	arc_journal_close(j);
	arc_index_close(x);
	pn_free(db);
	pn_free(root);
}

/* journal_text - every day file of the journal, concatenated */
static char *journal_text(void)
{
	char *pattern = pn_asprintf("%s/archive/journal/*.jsonl", dir);
	glob_t g;
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++) {
			FILE *fp = fopen(g.gl_pathv[i], "r");
			char line[4096];
			while (fp && fgets(line, sizeof(line), fp))
				pn_buf_puts(&b, line);
			if (fp)
				fclose(fp);
		}
		globfree(&g);
	}
	pn_free(pattern);
	return pn_buf_steal(&b, NULL);
}

static int setup(void **state)
{
	(void)state;
	pn_log_set_level(PN_LOG_FATAL);
	snprintf(dir, sizeof(dir), "%s", t_tmpdir("test_archive_engine"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return t_rmtree(dir);
}

static void refused_after_storing_is_voided(void **state)
{
	pn_snapshot *s = snapshot(NULL);
	pn_conn *c = message(s, "zeppelin");
	const char *id;
	char *id_copy, *journal, *void_line;

	(void)state;
	/* a later engine tempfails after the archive stored the message */
	assert_int_equal(end_message(c, PN_TEMPFAIL, "audit"), PN_CONTINUE);
	id = pn_msg_note_get(c->msg, "archive", "id");
	assert_non_null(id);
	id_copy = pn_strdup(id);
	assert_string_equal(pn_msg_note_get(c->msg, "archive", "stored"), "new");
	assert_int_equal(strlen(pn_msg_note_get(c->msg, "archive", "sha256")), 64);
	finish(c);
	/* search shows nothing, by id or by word; the journal voids it */
	assert_int_equal(search(s, "key", id_copy), 0);
	assert_int_equal(search(s, "text", "zeppelin"), 0);
	assert_int_equal(search(s, NULL, NULL), 0);
	journal = journal_text();
	void_line = strstr(journal, "\"type\":\"void\"");
	if (void_line == NULL || strstr(void_line, id_copy) == NULL)
		fail_msg("no void record for %s in the journal:\n%s", id_copy, journal);
	pn_free(journal);
	pn_free(id_copy);
	pn_snapshot_release(s);
}

static void accepted_is_shown(void **state)
{
	pn_snapshot *s = snapshot(NULL);
	pn_conn *c = message(s, "dirigible");
	char *id;

	(void)state;
	assert_int_equal(end_message(c, PN_CONTINUE, NULL), PN_CONTINUE);
	id = pn_strdup(pn_msg_note_get(c->msg, "archive", "id"));
	finish(c);
	assert_int_equal(search(s, "key", id), 1);
	assert_int_equal(search(s, "text", "dirigible"), 1);
	pn_free(id);
	pn_snapshot_release(s);
}

static void voided_after_a_tool_indexed_it(void **state)
{
	pn_snapshot *s = snapshot(NULL);
	pn_conn *c = message(s, "blimp");
	pn_actions *a = pn_actions_new();
	pn_outcome o;
	char *id;

	(void)state;
	/* stored, awaiting the outcome: no handle of this process indexes it */
	assert_int_equal(archive_engine.on_eom(c, c->msg, a), PN_CONTINUE);
	pn_actions_free(a);
	id = pn_strdup(pn_msg_note_get(c->msg, "archive", "id"));
	assert_int_equal(search(s, "key", id), 0);
	/* a tool in another process, which cannot know, brings the index up
	 * to date meanwhile */
	other_process_catch_up();
	assert_int_equal(search(s, "key", id), 1);
	/* then the MTA rejects the message: the index drops the delivery */
	memset(&o, 0, sizeof(o));
	o.step = PN_STEP_EOM;
	o.verdict = PN_REJECT;
	o.by = "sort";
	o.rcode = "550";
	o.xcode = "5.7.1";
	o.text = "Rejected by a rule";
	assert_non_null(archive_engine.on_outcome);
	archive_engine.on_outcome(c, c->msg, &o);
	assert_non_null(pn_msg_note_get(c->msg, "archive", "voided"));
	finish(c);
	assert_int_equal(search(s, "key", id), 0);
	assert_int_equal(search(s, "text", "blimp"), 0);
	pn_free(id);
	pn_snapshot_release(s);
}

static void not_archived_is_noted(void **state)
{
	pn_snapshot *s = snapshot("include_domains = elsewhere.example\n");
	pn_conn *c = message(s, "balloon");

	(void)state;
	assert_int_equal(end_message(c, PN_CONTINUE, NULL), PN_CONTINUE);
	assert_string_equal(pn_msg_note_get(c->msg, "archive", "archived"), "no");
	assert_non_null(strstr(pn_msg_note_get(c->msg, "archive", "reason"), "out of scope"));
	assert_null(pn_msg_note_get(c->msg, "archive", "id"));
	finish(c);
	pn_snapshot_release(s);

	s = snapshot("size_limit = 10\nsize_limit_action = accept\n");
	c = message(s, "kite");
	assert_int_equal(end_message(c, PN_CONTINUE, NULL), PN_CONTINUE);
	assert_string_equal(pn_msg_note_get(c->msg, "archive", "archived"), "no");
	assert_non_null(strstr(pn_msg_note_get(c->msg, "archive", "reason"), "size_limit"));
	finish(c);
	pn_snapshot_release(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refused_after_storing_is_voided),
		cmocka_unit_test(accepted_is_shown),
		cmocka_unit_test(voided_after_a_tool_indexed_it),
		cmocka_unit_test(not_archived_is_noted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
