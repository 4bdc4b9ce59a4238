/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sort_include - date, index and include (RFC 5260, RFC 6609): the
 * interpreter with an injected clock and include hook, and the engine's
 * include directories and script cache */
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
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "milters/sort/sort_engine.h"
#include "milters/sort/sieve.h"
#include "tests/unit/testlib.h"

static const char MSG[] =
	"Received: from b by c; Mon, 1 Jan 2024 10:00:00 +0000\n"
	"Received: from a by b; Sun, 31 Dec 2023 23:00:00 -0200\n"
	"Date: Sun, 31 Dec 2023 21:45:30 -0500\n"
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"To: carol@example.org, dave@sub.example.net\n"
	"Subject: Hello\n"
	"\n"
	"Body.\n";

/* ---- the interpreter, with a table of scripts as the include hook ------ */

typedef struct lib {
	const char *name;
	int global;
	const char *text;
	sv_script *s;
	unsigned lookups;
} lib;

static lib *libs;	/* the table the current test uses */
static size_t nlibs;

/* lookup - sv_services.include over the table: compiled on first use */
static const sv_script *lookup(void *arg, int global, const char *name, int *missing,
			       char **err)
{
	size_t i;

	(void)arg;
	*missing = 0;
	*err = NULL;
	for (i = 0; i < nlibs; i++) {
		if (libs[i].global != global || strcmp(libs[i].name, name) != 0)
			continue;
		libs[i].lookups++;
		if (libs[i].s == NULL
		    && (libs[i].s = sv_compile(libs[i].name, libs[i].text, strlen(libs[i].text),
					       NULL, err)) == NULL)
			return NULL;
		return libs[i].s;
	}
	*missing = 1;
	return NULL;
}

/* run_script - compile and run text; the printed actions, and the
 * run-time error (or "") in *error */
static char *run_script(const char *text, time_t now, char **error)
{
	char *err = NULL, *out = NULL;
	size_t len = 0, i;
	sv_script *s = sv_compile("main", text, strlen(text), NULL, &err);
	pn_msg *m;
	sv_env env;
	sv_services svc;
	sv_result r;
	FILE *fp;

	if (s == NULL)
		fail_msg("compile: %s", err);
	m = pn_msg_load(MSG, strlen(MSG), 1 << 20, "/tmp");
	memset(&env, 0, sizeof(env));
	memset(&svc, 0, sizeof(svc));
	svc.include = lookup;
	env.msg = m;
	env.from = "<alice@example.com>";
	env.to = "<bob@example.org>";
	env.now = now;
	env.svc = &svc;
	sv_result_init(&r, m);
	sv_run(s, &env, &r);
	fp = open_memstream(&out, &len);
	sv_result_print(&r, fp);
	fclose(fp);
	*error = pn_strdup(r.error ? r.error : "");
	sv_result_clear(&r);
	pn_msg_free(m);
	sv_script_free(s);
	for (i = 0; i < nlibs; i++) {
		sv_script_free(libs[i].s);
		libs[i].s = NULL;
	}
	return out;
}

/* expect - run text and compare the actions and the error with want */
static void expect(const char *text, time_t now, const char *want, const char *want_error)
{
	char *error, *got = run_script(text, now, &error);

	if (strcmp(got, want) != 0)
		fail_msg("script:\n%s\ngot actions:\n%swant:\n%s", text, got, want);
	if (want_error == NULL ? *error != '\0' : strstr(error, want_error) == NULL)
		fail_msg("script:\n%s\ngot error \"%s\", want \"%s\"", text, error,
			 want_error ? want_error : "");
	free(got);
	pn_free(error);
}

static void currentdate_reads_the_injected_clock(void **state)
{
	(void)state;
	/* 2024-02-29 23:30:00 UTC: a leap day, already 1 March in +0100 */
	expect("require [\"date\", \"fileinto\", \"variables\"];\n"
	       "if currentdate :zone \"+0000\" \"date\" \"2024-02-29\" { fileinto \"leap\"; }\n"
	       "if currentdate :zone \"+0100\" :matches \"iso8601\" \"*\" { fileinto \"${0}\"; }\n"
	       "if currentdate :zone \"-0930\" \"time\" \"14:00:00\" { fileinto \"marquesas\"; }\n",
	       1709249400, "fileinto \"leap\"\nfileinto \"2024-03-01T00:30:00+01:00\"\n"
	       "fileinto \"marquesas\"\n", NULL);
	/* before 1970 and far ahead: the calendar holds */
	expect("require [\"date\", \"fileinto\"];\n"
	       "if currentdate :zone \"+0000\" \"std11\" \"Fri, 31 Dec 9999 23:59:59 +0000\" "
	       "{ fileinto \"y9999\"; }\n", 253402300799, "fileinto \"y9999\"\n", NULL);
}

static void date_parses_hostile_values(void **state)
{
	static const char *const bad[] = {
		"", "Mon, 32 Jan 2024 10:00:00 +0000", "1 Jan 2024 24:00:00 +0000",
		"1 Jan 2024 10:60:00 +0000", "1 Foo 2024 10:00:00 +0000",
		"1 Jan 2024 10:00:00 +00", "1 Jan 2024 10:00:00 +0099", "1 Jan 2024 10:00:00 J",
		"((((((((((((((((((((((((((((((((((((((((1 Jan 2024 10:00:00 +0000",
		"Mon 1 Jan 2024 10:00:00 +0000", "1 Jan 2024", NULL
	};
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		char *script = pn_asprintf(
			"require [\"date\", \"variables\", \"fileinto\", \"editheader\"];\n"
			"addheader \"X-D\" \"%s\";\n"
			"if date :zone \"+0000\" :matches \"x-d\" \"iso8601\" \"*\" "
			"{ fileinto \"${0}\"; }\n", bad[i]);
		char *error, *got = run_script(script, 1, &error);

		if (strstr(got, "fileinto") != NULL)
			fail_msg("\"%s\" was taken for a date: %s", bad[i], got);
		free(got);
		pn_free(error);
		pn_free(script);
	}
	/* the good forms, obsolete ones included */
	expect("require [\"date\", \"fileinto\", \"editheader\"];\n"
	       "addheader \"X-D\" \"(c) Tue, (x) 2 Jan 1990 8:00 (y) PDT\";\n"
	       "if date :zone \"+0000\" \"x-d\" \"iso8601\" \"1990-01-02T15:00:00Z\" "
	       "{ fileinto \"ok\"; }\n", 1,
	       "addheader \"X-D\" \"(c) Tue, (x) 2 Jan 1990 8:00 (y) PDT\"\nfileinto \"ok\"\n", NULL);
}

static void index_picks_one_field(void **state)
{
	(void)state;
	expect("require [\"index\", \"date\", \"fileinto\"];\n"
	       "if address :index 2 :domain \"to\" \"sub.example.net\" { fileinto \"a\"; }\n"
	       "if address :index 1 :domain \"to\" \"sub.example.net\" { fileinto \"b\"; }\n"
	       "if header :index 2 :last :contains \"received\" \"from b\" { fileinto \"c\"; }\n"
	       "if date :index 1 :last :originalzone \"received\" \"zone\" \"-0200\" "
	       "{ fileinto \"d\"; }\n"
	       "if header :index 3 :contains \"received\" \"\" { fileinto \"e\"; }\n",
	       1, "fileinto \"a\"\nfileinto \"c\"\nfileinto \"d\"\n", NULL);
}

static void include_runs_in_the_same_run(void **state)
{
	lib table[] = {
		{"a", 0, "require [\"include\", \"fileinto\", \"variables\"]; global \"g\";"
		 " fileinto \"a-${g}-${local}\"; set \"g\" \"from-a\"; return; fileinto \"x\";",
		 NULL, 0},
		{"rules", 1, "require \"fileinto\"; fileinto \"global-rules\"; stop;", NULL, 0},
	};

	(void)state;
	libs = table;
	nlibs = 2;
	expect("require [\"include\", \"fileinto\", \"variables\"]; global \"g\";\n"
	       "set \"g\" \"main\"; set \"local\" \"main-only\";\n"
	       "include \"a\"; include :once \"a\";\n"
	       "fileinto \"after-${g}\"; include :global \"rules\"; fileinto \"never\";\n",
	       1, "fileinto \"a-main-\"\nfileinto \"after-from-a\"\nfileinto \"global-rules\"\n",
	       NULL);
	/* :personal is the default location: a global script of that name is another */
	expect("require \"include\"; include \"rules\";", 1, "keep\n", "not found");
	expect("require \"include\"; include :optional \"rules\";", 1, "keep\n", NULL);
	libs = NULL;
	nlibs = 0;
}

static void include_loops_are_run_time_errors(void **state)
{
	lib table[] = {
		{"a", 0, "require [\"include\", \"fileinto\"]; fileinto \"in-a\"; include \"b\";",
		 NULL, 0},
		{"b", 0, "require \"include\"; include :once \"c\";", NULL, 0},
		{"c", 0, "require \"include\"; include \"a\";", NULL, 0},
		{"self", 0, "require \"include\"; include :once \"self\";", NULL, 0},
		{"many", 0, "require [\"include\", \"variables\"]; set \"global.n\" \"${global.n}1\";",
		 NULL, 0},
		{"broken", 0, "require \"fileinto\"; fileinto \"x\"", NULL, 0},
	};
	pn_buf b;
	int i;

	(void)state;
	libs = table;
	nlibs = 6;
	/* the actions of the whole run go; the chain is named */
	expect("require [\"include\", \"fileinto\"]; fileinto \"first\"; include \"a\";", 1,
	       "keep\n", "include loop: main -> a -> b -> c -> a");
	/* :once on a script that is still running skips it: no loop */
	expect("require [\"include\", \"fileinto\"]; include \"self\"; fileinto \"done\";", 1,
	       "fileinto \"done\"\n", NULL);
	/* every include costs: 300 includes of one script pass max_includes (255) */
	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "require \"include\";\n");
	for (i = 0; i < 300; i++)
		pn_buf_puts(&b, "include \"many\";\n");
	expect(pn_buf_str(&b), 1, "keep\n", "more than 255 scripts included");
	pn_buf_free(&b);
	/* a script that does not compile is a run-time error naming it */
	expect("require [\"include\", \"fileinto\"]; fileinto \"first\"; include \"broken\";", 1,
	       "keep\n", "include: personal script \"broken\": broken:1:");
	/* a name made at run time is checked as at compile time */
	expect("require [\"include\", \"variables\"]; set \"n\" \"../etc/x\"; include \"${n}\";", 1,
	       "keep\n", "script name starts with \".\"");
	expect("require [\"include\", \"variables\"]; set \"n\" \"a/b\"; include \"${n}\";", 1,
	       "keep\n", "contains \"/\"");
	libs = NULL;
	nlibs = 0;
}

/* ---- the engine: directories and the script cache ---------------------- */

static char dir[64];

/* put - write a file under the test directory */
static void put(const char *name, const char *text)
{
	char *path = pn_asprintf("%s/%s", dir, name), *p;
	FILE *fp;

	for (p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	pn_free(path);
}

/* load - engine state from configuration text, @ = the test directory */
static sort_state *load(const char *conf)
{
	pn_buf b;
	const char *p;
	pn_config *cfg;
	sort_state *st;
	char *err = NULL;

	pn_buf_init(&b, 0);
	for (p = conf; *p; p++) {
		if (*p == '@')
			pn_buf_puts(&b, dir);
		else
			pn_buf_putc(&b, *p);
	}
	cfg = pn_config_parse(pn_buf_str(&b), "t.conf", sort_params, &err);
	pn_buf_free(&b);
	if (cfg == NULL)
		fail_msg("config: %s", err);
	st = sort_load(cfg, &err);
	pn_config_free(cfg);
	if (st == NULL)
		fail_msg("load: %s", err);
	return st;
}

/* run - every recipient through the configured scripts; the Sieve actions */
static char *run(sort_state *st, const char *const *rcpts)
{
	pn_msg *m = pn_msg_load(MSG, strlen(MSG), 1 << 20, "/tmp");
	char *out = NULL, *none[] = {NULL};
	size_t len = 0;
	sort_outcome *o;
	FILE *fp = open_memstream(&out, &len);

	pn_msg_set_sender(m, "<alice@example.com>", NULL);
	for (; *rcpts; rcpts++)
		pn_msg_add_rcpt(m, *rcpts, NULL);
	o = sort_run(st, m, (const char *const *)none, NULL);
	sort_outcome_print(o, fp);
	fclose(fp);
	sort_outcome_free(o);
	pn_msg_free(m);
	return out;
}

static void engine_maps_locations_to_directories(void **state)
{
	static const char *const rcpts[] = {"<bob@example.org>", "<Carol+x@Example.ORG>", NULL};
	sort_state *st;
	char *out;

	(void)state;
	put("main.sieve", "require [\"include\", \"fileinto\"];\n"
	    "include :optional \"mine\"; include :global \"site\";\n");
	put("users/example.org/bob/mine.sieve", "require \"fileinto\"; fileinto \"bob-rules\";");
	put("users/example.org/carol/mine.sieve", "require \"fileinto\"; fileinto \"carol-rules\";");
	put("global/site.sieve", "require \"fileinto\"; fileinto \"site\";");
	st = load("script = @/main.sieve\ninclude_personal_dir = @/users/%d/%u\n"
		  "include_global_dir = @/global/\n");
	out = run(st, rcpts);
	if (strcmp(out, "recipient <bob@example.org>\nfileinto \"bob-rules\"\nfileinto \"site\"\n"
		   "recipient <Carol+x@Example.ORG>\nfileinto \"carol-rules\"\n"
		   "fileinto \"site\"\n") != 0)
		fail_msg("got %s", out);
	free(out);
	/* an included script that changes is compiled again; a broken
	 * version keeps the last good one */
	put("global/site.sieve", "require \"fileinto\"; fileinto \"site-v2\";");
	out = run(st, rcpts + 1);
	if (strstr(out, "fileinto \"site-v2\"") == NULL)
		fail_msg("changed include not recompiled: %s", out);
	free(out);
	put("global/site.sieve", "require \"fileinto\"; fileinto \"site-v3\"");
	out = run(st, rcpts + 1);
	if (strstr(out, "fileinto \"site-v2\"") == NULL)
		fail_msg("broken include not ignored: %s", out);
	free(out);
	sort_unload(st);
}

static void engine_depth_limit_is_a_parameter(void **state)
{
	static const char *const rcpts[] = {"<bob@example.org>", NULL};
	sort_state *st;
	char *out;

	(void)state;
	put("deep/main.sieve", "require [\"include\", \"fileinto\"]; fileinto \"x\"; include \"d1\";");
	put("deep/inc/d1.sieve", "require \"include\"; include \"d2\";");
	put("deep/inc/d2.sieve", "require \"include\"; include \"d3\";");
	put("deep/inc/d3.sieve", "require \"fileinto\"; fileinto \"bottom\";");
	st = load("script = @/deep/main.sieve\ninclude_personal_dir = @/deep/inc\n"
		  "max_include_depth = 3\n");
	out = run(st, rcpts);
	assert_string_equal(out, "fileinto \"x\"\nfileinto \"bottom\"\n");
	free(out);
	sort_unload(st);
	st = load("script = @/deep/main.sieve\ninclude_personal_dir = @/deep/inc\n"
		  "max_include_depth = 2\n");
	out = run(st, rcpts);
	assert_string_equal(out, "keep\n");	/* the run failed: implicit keep */
	free(out);
	sort_unload(st);
}

static void engine_check_compiles_included_scripts(void **state)
{
	pn_config *cfg;
	sort_state *st;
	char *err = NULL, *conf;

	(void)state;
	put("chk/global/good.sieve", "require \"fileinto\"; fileinto \"x\";");
	put("chk/global/bad.sieve", "require \"fileinto\";\nfileinto \"x\"");
	conf = pn_asprintf("include_global_dir = %s/chk/global\n", dir);
	cfg = pn_config_parse(conf, "t.conf", sort_params, &err);
	assert_non_null(cfg);
	st = sort_load(cfg, &err);
	if (st != NULL || err == NULL || strstr(err, "chk/global/bad.sieve:2:") == NULL)
		fail_msg("a broken global include loaded: %s", err ? err : "(no error)");
	pn_free(err);
	pn_config_free(cfg);
	pn_free(conf);
}

static int setup(void **state)
{
	(void)state;
	pn_log_set_level(PN_LOG_FATAL);
	snprintf(dir, sizeof(dir), "%s", t_tmpdir("test_sort_include"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return t_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(currentdate_reads_the_injected_clock),
		cmocka_unit_test(date_parses_hostile_values),
		cmocka_unit_test(index_picks_one_field),
		cmocka_unit_test(include_runs_in_the_same_run),
		cmocka_unit_test(include_loops_are_run_time_errors),
		cmocka_unit_test(engine_maps_locations_to_directories),
		cmocka_unit_test(engine_depth_limit_is_a_parameter),
		cmocka_unit_test(engine_check_compiles_included_scripts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
