/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sort_engine - configured scripts, chains, the script cache, milter modifications */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/log.h"
#include "milters/sort/sort_engine.h"
#include "tests/unit/testlib.h"

static char dir[64];

static const char MSG[] =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: Hello world\n"
	"X-Postern-Redirected: <loop@example.net>\n"
	"\n"
	"Body.\n";

/* put - write a file under the test directory */
static void put(const char *name, const char *text)
{
	char *path = pn_asprintf("%s/%s", dir, name);
	char *slash = strrchr(path, '/');
	FILE *fp;

	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	pn_free(path);
}

/* load - engine state from configuration text with @ replaced by the test directory */
static sort_state *load(const char *conf, char **err)
{
	pn_buf b;
	const char *p;
	pn_config *cfg;
	sort_state *st;

	pn_buf_init(&b, 0);
	for (p = conf; *p; p++) {
		if (*p == '@')
			pn_buf_puts(&b, dir);
		else
			pn_buf_putc(&b, *p);
	}
	cfg = pn_config_parse(pn_buf_str(&b), "t.conf", sort_params, err);
	pn_buf_free(&b);
	if (cfg == NULL)
		fail_msg("config: %s", *err);
	st = sort_load(cfg, err);
	pn_config_free(cfg);
	return st;
}

/* run - all recipients through the configured scripts; modifications as text */
static char *run(sort_state *st, const char *msg, const char *const *rcpts)
{
	pn_msg *m = pn_msg_load(msg, strlen(msg), 1 << 20, "/tmp");
	sort_facts f;
	char **items, *out = NULL;
	size_t len = 0;
	sort_outcome *o;
	pn_actions *a = pn_actions_new();
	FILE *fp = open_memstream(&out, &len);

	pn_msg_set_sender(m, "<alice@example.com>", NULL);
	for (; *rcpts; rcpts++)
		pn_msg_add_rcpt(m, *rcpts, NULL);
	memset(&f, 0, sizeof(f));
	f.client_addr = "192.0.2.1";
	items = sort_env_items(st, &f);
	o = sort_run(st, m, (const char *const *)items, NULL);
	sort_apply(st, o, m, "QID1", a);
	pn_actions_print(a, fp);
	fclose(fp);
	pn_actions_free(a);
	sort_outcome_free(o);
	sort_env_free(items);
	pn_msg_free(m);
	return out;
}

static int setup(void **state)
{
	(void)state;
	pn_log_set_level(PN_LOG_FATAL);	/* the engine logs every action */
	snprintf(dir, sizeof(dir), "%s", t_tmpdir("test_sort_engine"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return t_rmtree(dir);
}

static void load_reports_script_errors(void **state)
{
	static const struct { const char *file, *text, *conf, *want; } cases[] = {
		{"g1.sieve", "keep;\nif true {\n", "script = @/g1.sieve\n",
		 "/g1.sieve:3:1: expected '}'"},
		{"g2.sieve", "keep;", "script = @/missing.sieve\n", "/missing.sieve: cannot open"},
		{"dom/bad.example.sieve", "fileinto \"x\";", "domain_scripts = @/dom/%d.sieve\n",
		 "/dom/bad.example.sieve:1:1: unknown command \"fileinto\""},
		{"g3.sieve", "keep;", "user_scripts = @/u/%x.sieve\n", "unknown %x"},
		{"g4.sieve", "keep;", "recipient_delimiter = +\"\n", "recipient_delimiter"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		sort_state *st;

		put(cases[i].file, cases[i].text);
		st = load(cases[i].conf, &err);
		if (st != NULL)
			fail_msg("case %zu: loaded, want \"%s\"", i, cases[i].want);
		if (err == NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err ? err : "(null)",
				 cases[i].want);
		pn_free(err);
	}
	/* the broken domain script must not break later cases */
	{
		char *p = pn_asprintf("%s/dom/bad.example.sieve", dir);
		unlink(p);
		pn_free(p);
	}
}

static void chain_global_domain_user(void **state)
{
	static const char *const rcpts[] = {"<bob@example.org>", "<carol+x@example.org>",
					    "<dave@other.example>", NULL};
	char *err = NULL, *out;
	sort_state *st;

	(void)state;
	put("c/global.sieve", "require [\"editheader\", \"envelope\"];\n"
	    "addheader \"X-Global\" \"1\";\n"
	    "if envelope :domain \"to\" \"other.example\" { stop; }\n");
	put("c/example.org.sieve", "require \"fileinto\";\nfileinto \"Domain\";\n");
	put("c/example.org/carol.sieve", "require \"copy\";\nredirect :copy \"archive@example.net\";\n");
	put("c/other.example.sieve", "discard;\n");
	st = load("script = @/c/global.sieve\ndomain_scripts = @/c/%d.sieve\n"
		  "user_scripts = @/c/%d/%u.sieve\n", &err);
	if (st == NULL)
		fail_msg("load: %s", err);
	out = run(st, MSG, rcpts);
	assert_string_equal(out,
		"delete_header X-Postern-Redirected[1]\n"
		"insert_header 0 X-Global: 1\n"
		"add_header X-Postern-Redirected: hops=2\n"
		"add_rcpt <bob+Domain@example.org>\n"
		"add_rcpt <carol+Domain@example.org>\n"
		"add_rcpt <archive@example.net>\n"
		"delete_rcpt <bob@example.org>\n"
		"delete_rcpt <carol+x@example.org>\n"
		"verdict continue\n");
	free(out);
	sort_unload(st);
}

static void cache_recompiles_changed_scripts(void **state)
{
	static const char *const rcpts[] = {"<bob@example.org>", NULL};
	char *err = NULL, *out;
	sort_state *st;

	(void)state;
	put("r/global.sieve", "redirect \"one@example.net\";\n");
	st = load("script = @/r/global.sieve\n", &err);
	if (st == NULL)
		fail_msg("load: %s", err);
	out = run(st, MSG, rcpts);
	assert_non_null(strstr(out, "add_rcpt <one@example.net>"));
	free(out);
	put("r/global.sieve", "redirect \"second@example.net\";\n");
	out = run(st, MSG, rcpts);
	if (strstr(out, "add_rcpt <second@example.net>") == NULL)
		fail_msg("changed script not recompiled: %s", out);
	free(out);
	/* a broken change keeps the last good version */
	put("r/global.sieve", "redirect \"third@example.net\"\n");
	out = run(st, MSG, rcpts);
	if (strstr(out, "add_rcpt <second@example.net>") == NULL)
		fail_msg("broken change not ignored: %s", out);
	free(out);
	sort_unload(st);
}

static const struct apply_case {
	const char *conf;
	const char *script;
	const char *rcpts[3];
	const char *want;
} apply_cases[] = {
	/* fileinto_method = header: the header names no address */
	{"fileinto_method = header\n", "require \"fileinto\"; fileinto \"Caf\xc3\xa9 Work\";",
	 {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "add_header X-Postern-Folder: =?UTF-8?B?Q2Fmw6kgV29yaw==?=\n"
	 "verdict continue\n"},
	{"", "require \"fileinto\"; fileinto \"Two Words\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"recipient_delimiter = -+\n", "require \"fileinto\"; fileinto \"Lists\";",
	 {"<bob-old@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "add_rcpt <bob-Lists@example.org>\ndelete_rcpt <bob-old@example.org>\nverdict continue\n"},
	{"", "redirect \"loop@example.net\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"max_redirect_hops = 1\n", "redirect \"other@example.net\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"", "discard;", {"<bob@example.org>", "<carol@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "delete_rcpt <bob@example.org>\ndelete_rcpt <carol@example.org>\nverdict discard\n"},
	{"", "require \"reject\"; reject \"Not\r\nwanted\";", {"<bob@example.org>", "<c@example.org>"},
	 "verdict reject 550 5.7.1 Not wanted\n"},
	{"", "require [\"reject\", \"envelope\"]; if envelope :is \"to\" \"c@example.org\" { reject \"no\"; }",
	 {"<bob@example.org>", "<c@example.org>"},
	 "delete_header X-Postern-Redirected[1]\ndelete_rcpt <c@example.org>\nverdict continue\n"},
	{"", "require [\"editheader\", \"envelope\"]; addheader \"X-All\" \"1\"; "
	 "if envelope :is \"to\" \"c@example.org\" { addheader \"X-C\" \"1\"; }",
	 {"<bob@example.org>", "<c@example.org>"},
	 "delete_header X-Postern-Redirected[1]\ninsert_header 0 X-All: 1\nverdict continue\n"},
	{"", "require \"editheader\"; deleteheader \"to\"; addheader :last \"To\" \"new@example.org\";",
	 {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "delete_header To[1]\nadd_header To: new@example.org\nverdict continue\n"},
	/* the trace header counts hops and names no address */
	{"", "require [\"fileinto\", \"envelope\"]; if envelope :is \"to\" \"bob@example.org\" "
	 "{ redirect \"c@example.org\"; } else { fileinto \"INBOX\"; }",
	 {"<bob@example.org>", "<c@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "add_header X-Postern-Redirected: hops=2\ndelete_rcpt <bob@example.org>\n"
	 "verdict continue\n"},
	/* finding 6: folders that Postfix would route elsewhere stay keeps */
	{"", "require \"fileinto\"; fileinto \"lists.news%evil.example\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"", "require \"fileinto\"; fileinto \"evil.example!news\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"", "require \"fileinto\"; fileinto \"a@evil.example\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"", "require \"fileinto\"; fileinto \"Lists/../x\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"", "require \"fileinto\"; fileinto \"Lists/News-2024_a.b\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "add_header X-Postern-Original-To: <bob@example.org>\n"
	 "add_rcpt <bob+Lists/News-2024_a.b@example.org>\ndelete_rcpt <bob@example.org>\n"
	 "verdict continue\n"},
	/* original_recipient_header empty: the address is named nowhere */
	{"original_recipient_header =\n", "require \"fileinto\"; fileinto \"Lists\";",
	 {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\n"
	 "add_rcpt <bob+Lists@example.org>\ndelete_rcpt <bob@example.org>\n"
	 "verdict continue\n"},
	/* finding 7: a folder header only when every recipient files alike */
	{"fileinto_method = header\n", "require \"fileinto\"; fileinto \"Legal\";",
	 {"<bob@example.org>", "<secret@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nadd_header X-Postern-Folder: Legal\n"
	 "verdict continue\n"},
	{"fileinto_method = header\n", "require [\"fileinto\", \"envelope\"]; "
	 "if envelope :is \"to\" \"secret@example.org\" { fileinto \"Legal\"; }",
	 {"<bob@example.org>", "<secret@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nverdict continue\n"},
	{"fileinto_method = header\n", "require [\"fileinto\", \"copy\"]; fileinto \"Legal\"; "
	 "redirect :copy \"private@example.net\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\nadd_header X-Postern-Redirected: hops=2\n"
	 "add_rcpt <private@example.net>\nverdict continue\n"},
	/* scripts cannot write the headers Postern writes */
	{"", "require \"editheader\"; addheader \"X-Postern-Folder\" \"Trash\"; "
	 "addheader \"X-Other\" \"1\";", {"<bob@example.org>"},
	 "delete_header X-Postern-Redirected[1]\ninsert_header 0 X-Other: 1\nverdict continue\n"},
};

static void actions_become_modifications(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(apply_cases) / sizeof(apply_cases[0]); i++) {
		const struct apply_case *c = &apply_cases[i];
		char *err = NULL, *out, *conf, *file = pn_asprintf("a/case%zu.sieve", i);
		sort_state *st;

		put(file, c->script);
		conf = pn_asprintf("%sscript = @/%s\n", c->conf, file);
		st = load(conf, &err);
		if (st == NULL)
			fail_msg("case %zu: load: %s", i, err);
		out = run(st, MSG, c->rcpts);
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: %s\ngot:\n%swant:\n%s", i, c->script, out, c->want);
		free(out);
		sort_unload(st);
		pn_free(conf);
		pn_free(file);
	}
}

static void environment_items(void **state)
{
	char *err = NULL, **items;
	sort_state *st;
	sort_facts f;
	size_t i;
	int seen = 0;

	(void)state;
	st = load("environment_host = mx.postern.test\n", &err);
	assert_non_null(st);
	memset(&f, 0, sizeof(f));
	f.client_addr = "192.0.2.9";
	f.tls_version = "TLSv1.3";
	f.auth_user = "bob";
	items = sort_env_items(st, &f);
	for (i = 0; items[i]; i += 2) {
		static const char *const want[] = {
			"domain", "postern.test", "host", "mx.postern.test", "location", "MTA",
			"phase", "during", "remote-ip", "192.0.2.9", "vnd.postern.tls-version",
			"TLSv1.3", "vnd.postern.authenticated", "yes", "vnd.postern.auth-user", "bob",
			"vnd.postern.client-country", "", NULL
		};
		size_t k;
		for (k = 0; want[k]; k += 2)
			if (strcmp(items[i], want[k]) == 0) {
				if (strcmp(items[i + 1], want[k + 1]) != 0)
					fail_msg("%s: got \"%s\", want \"%s\"", want[k], items[i + 1],
						 want[k + 1]);
				seen++;
			}
	}
	assert_int_equal(seen, 9);
	sort_env_free(items);
	sort_unload(st);
}

static const char DUP_MSG[] =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: Hello world\n"
	"Message-ID: <one@example.com>\n"
	"\n"
	"Body.\n";

/* duplicate_remembers_per_recipient - the response store behind duplicate:
 * a second delivery is a duplicate for the same recipient only, after a
 * restart too, and a run that failed records nothing (RFC 7352 section 3) */
static void duplicate_remembers_per_recipient(void **state)
{
	static const char *const bob[] = {"<bob@example.org>", NULL};
	static const char *const carol[] = {"<carol@example.org>", NULL};
	static const char *const bob_spelled[] = {"<Bob@EXAMPLE.org>", NULL};
	const char *conf = "script = @/d/global.sieve\nresponse_store = @/d/responses\n";
	char *err = NULL, *out, *other;
	sort_state *st;

	(void)state;
	put("d/global.sieve", "require [\"duplicate\", \"fileinto\", \"variables\"];\n"
	    "if duplicate { fileinto \"Dup\"; }\n"
	    "if header :contains \"subject\" \"fail\" { set \"a\" \"no address\"; "
	    "redirect \"${a}\"; }\n");
	st = load(conf, &err);
	if (st == NULL)
		fail_msg("load: %s", err);
	out = run(st, DUP_MSG, bob);
	assert_null(strstr(out, "Dup"));
	free(out);
	out = run(st, DUP_MSG, bob);
	assert_non_null(strstr(out, "add_rcpt <bob+Dup@example.org>"));
	free(out);
	out = run(st, DUP_MSG, bob_spelled);	/* the same mailbox, spelled otherwise */
	assert_non_null(strstr(out, "+Dup@"));
	free(out);
	out = run(st, DUP_MSG, carol);		/* another recipient: not a duplicate */
	assert_null(strstr(out, "Dup"));
	free(out);
	/* a run that fails is not recorded: the next attempt is no duplicate */
	other = pn_strdup(DUP_MSG);
	memcpy(strstr(other, "<one@"), "<two@", 5);
	memcpy(strstr(other, "Hello"), "fail!", 5);
	out = run(st, other, bob);
	assert_null(strstr(out, "Dup"));
	free(out);
	memcpy(strstr(other, "fail!"), "Hello", 5);
	out = run(st, other, bob);
	assert_null(strstr(out, "Dup"));
	free(out);
	sort_unload(st);
	/* a restart remembers */
	st = load(conf, &err);
	if (st == NULL)
		fail_msg("load: %s", err);
	out = run(st, other, bob);
	assert_non_null(strstr(out, "add_rcpt <bob+Dup@example.org>"));
	free(out);
	pn_free(other);
	sort_unload(st);
}

/* spam_settings_are_checked - a bad spamtest setting fails the load, naming it */
static void spam_settings_are_checked(void **state)
{
	static const struct {
		const char *conf, *want;
	} cases[] = {
		{"spamtest_status_header = X-Spam-Score\n", "spamtest_max_value"},
		{"spamtest_status_header = X-Spam-Score: (\n", "bad regular expression"},
		{"spamtest_status_header = X-Spam-Score: [0-9]+\nspamtest_max_value = 10\n",
		 "needs a group"},
		{"spamtest_status_header = Bad Name\nspamtest_max_value = 10\n", "not a header name"},
		{"virustest_status_header = X-Virus\nvirustest_text_values = 6=Worse\n",
		 "virustest_text_values"},
		{"spamtest_status_header = X\nspamtest_max_value = -3\n", "positive number"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		sort_state *st = load(cases[i].conf, &err);
		if (st != NULL || err == NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("%s: got %s, want an error with %s", cases[i].conf, t_show(err),
				 cases[i].want);
		pn_free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_reports_script_errors),
		cmocka_unit_test(chain_global_domain_user),
		cmocka_unit_test(cache_recompiles_changed_scripts),
		cmocka_unit_test(actions_become_modifications),
		cmocka_unit_test(environment_items),
		cmocka_unit_test(duplicate_remembers_per_recipient),
		cmocka_unit_test(spam_settings_are_checked),
	};
	return cmocka_run_group_tests_name("sort_engine", tests, setup, teardown);
}
