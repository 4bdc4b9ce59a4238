/* SPDX-License-Identifier: BSD-2-Clause */
/* test_config - main.cf syntax, types, bounds, expansion and messages */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/config.h"
#include "tests/unit/testlib.h"

#define FILE_NAME "/etc/postern/tls.conf"
#define G (1024LL * 1024 * 1024)

static const pn_param table[] = {
	{ "policy_file", PN_PARAM_STR, "/etc/postern/policy", 0, 0, NULL, "where the policy lives" },
	{ "workers", PN_PARAM_INT, "16", 1, 256, NULL, "worker threads" },
	{ "offset", PN_PARAM_INT, "0", 0, 0, NULL, NULL },
	{ "enable_tls", PN_PARAM_BOOL, "yes", 0, 0, NULL, "check TLS" },
	{ "max_message_size", PN_PARAM_SIZE, "10m", 1024, G, NULL, "largest message" },
	{ "timeout", PN_PARAM_TIME, "5m", 1, 86400, NULL, "lookup timeout" },
	{ "on_error", PN_PARAM_ENUM, "tempfail", 0, 0, "tempfail|accept|reject", "when lookups fail" },
	{ "run_dir", PN_PARAM_STR, "/run/postern", 0, 0, NULL, NULL },
	{ "socket", PN_PARAM_STR, "$run_dir/tls.sock", 0, 0, NULL, NULL },
	{ "banner", PN_PARAM_STR, "", 0, 0, NULL, NULL },
	{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
};

enum kind { STR, INT, BOOL };

struct ok_case {
	const char *what;
	const char *text;
	const char *name;
	enum kind kind;
	const char *want_str;
	long long want_int;
};

static const struct ok_case ok_cases[] = {
	{ "empty file keeps default", "", "workers", INT, NULL, 16 },
	{ "plain int", "workers = 32\n", "workers", INT, NULL, 32 },
	{ "no spaces, trailing blanks", "workers=32 \t\n", "workers", INT, NULL, 32 },
	{ "int at minimum", "workers = 1", "workers", INT, NULL, 1 },
	{ "int at maximum", "workers = 256", "workers", INT, NULL, 256 },
	{ "negative unbounded int", "offset = -5", "offset", INT, NULL, -5 },
	{ "largest int", "offset = 9223372036854775807", "offset", INT, NULL, 9223372036854775807LL },
	{ "smallest int", "offset = -9223372036854775808", "offset", INT, NULL, -9223372036854775807LL - 1 },
	{ "bool yes", "enable_tls = yes", "enable_tls", BOOL, NULL, 1 },
	{ "bool NO", "enable_tls = NO", "enable_tls", BOOL, NULL, 0 },
	{ "bool True", "enable_tls = True", "enable_tls", BOOL, NULL, 1 },
	{ "bool off", "enable_tls = off", "enable_tls", BOOL, NULL, 0 },
	{ "bool 0", "enable_tls = 0", "enable_tls", BOOL, NULL, 0 },
	{ "bool on", "enable_tls = on", "enable_tls", BOOL, NULL, 1 },
	{ "default size", "", "max_message_size", INT, NULL, 10 * 1024 * 1024 },
	{ "size in bytes", "max_message_size = 2048", "max_message_size", INT, NULL, 2048 },
	{ "size k", "max_message_size = 64K", "max_message_size", INT, NULL, 65536 },
	{ "size g at maximum", "max_message_size = 1g", "max_message_size", INT, NULL, G },
	{ "time no unit", "timeout = 30", "timeout", INT, NULL, 30 },
	{ "time minutes", "timeout = 5M", "timeout", INT, NULL, 300 },
	{ "time hours", "timeout = 2h", "timeout", INT, NULL, 7200 },
	{ "time day at maximum", "timeout = 1d", "timeout", INT, NULL, 86400 },
	{ "enum canonical", "on_error = ACCEPT", "on_error", STR, "accept", 0 },
	{ "enum default", "", "on_error", STR, "tempfail", 0 },
	{ "comments and blanks", "# workers = 3\n\n   # indented\nworkers = 4\n", "workers", INT, NULL, 4 },
	{ "# in the middle is data", "banner = hello # world", "banner", STR, "hello # world", 0 },
	{ "continuation joins with one space", "banner = a\n  b\n\tc   \n", "banner", STR, "a b c", 0 },
	{ "comment inside continuation", "banner = a\n# x\n\n  b\n", "banner", STR, "a b", 0 },
	{ "value only on continuation", "banner =\n    x", "banner", STR, "x", 0 },
	{ "later definition wins", "workers = 2\nworkers = 3\n", "workers", INT, NULL, 3 },
	{ "only the final value is checked", "workers = x\nworkers = 3\n", "workers", INT, NULL, 3 },
	{ "empty value", "banner =", "banner", STR, "", 0 },
	{ "CRLF line ends", "workers = 5\r\nbanner = b\r\n", "workers", INT, NULL, 5 },
	{ "byte order mark", "\xEF\xBB\xBFworkers = 6", "workers", INT, NULL, 6 },
	{ "default expands", "", "socket", STR, "/run/postern/tls.sock", 0 },
	{ "default expands file value", "run_dir = /tmp", "socket", STR, "/tmp/tls.sock", 0 },
	{ "${name} and $(name)", "banner = ${run_dir}x$(run_dir)", "banner", STR, "/run/posternx/run/postern", 0 },
	{ "$$ is a dollar", "banner = a$$b$$", "banner", STR, "a$b$", 0 },
	{ "forward reference", "banner = <$policy_file>\npolicy_file = /p", "banner", STR, "</p>", 0 },
	{ "chain of references", "banner = $socket\nrun_dir = /r", "banner", STR, "/r/tls.sock", 0 },
	{ "expansion into an int", "offset = $workers\nworkers = 7", "offset", INT, NULL, 7 },
	{ "${name?text} when set", "banner = ${run_dir?on $run_dir}", "banner", STR, "on /run/postern", 0 },
	{ "${name?text} when empty", "run_dir =\nbanner = x${run_dir?on}y", "banner", STR, "xy", 0 },
	{ "${name:text} when empty", "run_dir =\nbanner = ${run_dir:none}", "banner", STR, "none", 0 },
	{ "nested braces", "banner = ${run_dir?{$run_dir}}", "banner", STR, "{/run/postern}", 0 },
	{ "enum expands then matches", "banner = Reject\non_error = $banner", "on_error", STR, "reject", 0 },
};

/* check_ok - every valid text gives the expected value */
static void check_ok(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *t = &ok_cases[i];
		char *err = NULL;
		pn_config *cfg = pn_config_parse(t->text, FILE_NAME, table, &err);
		if (cfg == NULL)
			fail_msg("%s: got error \"%s\", want success", t->what, err);
		if (t->kind == STR) {
			const char *got = pn_config_str(cfg, t->name);
			if (strcmp(got, t->want_str) != 0)
				fail_msg("%s: %s: got \"%s\", want \"%s\"", t->what, t->name, got, t->want_str);
		} else {
			long long got = t->kind == INT ? pn_config_int(cfg, t->name)
						       : pn_config_bool(cfg, t->name);
			if (got != t->want_int)
				fail_msg("%s: %s: got %lld, want %lld", t->what, t->name, got, t->want_int);
		}
		pn_config_free(cfg);
	}
}

struct err_case {
	const char *what;
	const char *text;
	const char *want;
};

#define L6 "#\n#\n#\n#\n#\n#\n"	/* six comment lines: the next is line 7 */
#define F FILE_NAME ":"

static const struct err_case err_cases[] = {
	{ "unknown with suggestion", "polcy_file = /x",
	  F "1: unknown parameter \"polcy_file\" (did you mean \"policy_file\"?)" },
	{ "transposition suggestion", "wokrers = 1",
	  F "1: unknown parameter \"wokrers\" (did you mean \"workers\"?)" },
	{ "unknown without suggestion", "\nfrobnicate = 1",
	  F "2: unknown parameter \"frobnicate\"" },
	{ "not a size", L6 "max_message_size = 12x",
	  F "7: parameter \"max_message_size\" = \"12x\": not a size (use a number with optional k, m or g)" },
	{ "size with two units", "max_message_size = 1kk",
	  F "1: parameter \"max_message_size\" = \"1kk\": not a size (use a number with optional k, m or g)" },
	{ "negative size", "max_message_size = -1",
	  F "1: parameter \"max_message_size\" = \"-1\": not a size (use a number with optional k, m or g)" },
	{ "size above maximum", "max_message_size = 2g",
	  F "1: parameter \"max_message_size\" = \"2g\": above the maximum 1g" },
	{ "size below minimum", "max_message_size = 1000",
	  F "1: parameter \"max_message_size\" = \"1000\": below the minimum 1k" },
	{ "size overflow", "max_message_size = 99999999999g",
	  F "1: parameter \"max_message_size\" = \"99999999999g\": number out of range" },
	{ "int above maximum", L6 "workers = 900",
	  F "7: parameter \"workers\" = \"900\": above the maximum 256" },
	{ "int below minimum", "workers = 0",
	  F "1: parameter \"workers\" = \"0\": below the minimum 1" },
	{ "not an integer", "workers = 12a",
	  F "1: parameter \"workers\" = \"12a\": not an integer" },
	{ "empty integer", "workers =",
	  F "1: parameter \"workers\" = \"\": not an integer" },
	{ "int overflow", "offset = 9223372036854775808",
	  F "1: parameter \"offset\" = \"9223372036854775808\": number out of range" },
	{ "not a boolean", "enable_tls = maybe",
	  F "1: parameter \"enable_tls\" = \"maybe\": not a boolean (use yes or no)" },
	{ "not a time", "timeout = 5x",
	  F "1: parameter \"timeout\" = \"5x\": not a time (use a number with optional s, m, h, d or w)" },
	{ "time above maximum", "timeout = 2d",
	  F "1: parameter \"timeout\" = \"2d\": above the maximum 1d" },
	{ "time below minimum", "timeout = 0",
	  F "1: parameter \"timeout\" = \"0\": below the minimum 1s" },
	{ "not a choice", "on_error = drop",
	  F "1: parameter \"on_error\" = \"drop\": not a valid choice (use tempfail, accept or reject)" },
	{ "missing =", "#\n\nfoo bar",
	  F "3: missing \"=\" in \"foo bar\"" },
	{ "missing name", "= 5",
	  F "1: missing parameter name in \"= 5\"" },
	{ "continuation of nothing", "# hi\n  workers = 1",
	  F "2: line starts with white space, but there is no line before it to continue" },
	{ "unknown in expansion", "socket = $rundir/x",
	  F "1: parameter \"socket\" = \"$rundir/x\": unknown parameter \"rundir\" in expansion" },
	{ "unknown in default's expansion", "run_dir = $nowhere",
	  F "1: parameter \"run_dir\" = \"$nowhere\": unknown parameter \"nowhere\" in expansion" },
	{ "expansion loop", "banner = $policy_file\npolicy_file = x$banner",
	  F "1: parameter \"banner\" = \"$policy_file\": expansion loop: banner -> policy_file -> banner" },
	{ "self reference", "\nbanner = a${banner}",
	  F "2: parameter \"banner\" = \"a${banner}\": expansion loop: banner -> banner" },
	{ "loop through a default", "run_dir = $socket",
	  F "1: parameter \"run_dir\" = \"$socket\": expansion loop: run_dir -> socket -> run_dir" },
	{ "expanded value checked", "offset = $banner\nbanner = x",
	  F "1: parameter \"offset\" = \"$banner\" (expands to \"x\"): not an integer" },
	{ "dollar at end", "banner = cost$",
	  F "1: parameter \"banner\" = \"cost$\": \"$\" at the end of the value (write \"$$\" for a literal \"$\")" },
	{ "dollar before space", "banner = $ 5",
	  F "1: parameter \"banner\" = \"$ 5\": \"$\" not followed by a parameter name (write \"$$\" for a literal \"$\")" },
	{ "unclosed brace", "banner = ${run_dir",
	  F "1: parameter \"banner\" = \"${run_dir\": missing \"}\" after \"${\"" },
	{ "bad name in braces", "banner = ${run-dir}",
	  F "1: parameter \"banner\" = \"${run-dir}\": bad parameter name in \"${run-dir}\"" },
	{ "first error wins", "workers = 0\nfoo bar\n",
	  F "2: missing \"=\" in \"foo bar\"" },
	{ "first value error by line", "timeout = x\nworkers = y\n",
	  F "1: parameter \"timeout\" = \"x\": not a time (use a number with optional s, m, h, d or w)" },
};

/* check_errors - each broken text gives exactly the expected message */
static void check_errors(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *t = &err_cases[i];
		char *err = NULL;
		pn_config *cfg = pn_config_parse(t->text, FILE_NAME, table, &err);
		if (cfg != NULL)
			fail_msg("%s: got success, want error \"%s\"", t->what, t->want);
		if (err == NULL || strcmp(err, t->want) != 0)
			fail_msg("%s:\n got  %s\n want %s", t->what, err ? err : "(null)", t->want);
		pn_free(err);
	}
}

/* nul_and_long_lines - binary junk and huge lines fail cleanly */
static void nul_and_long_lines(void **state)
{
	static const char nul[] = "workers = 1\nbanner = a\0b\n";
	struct {
		const char *what;
		const char *text;
		size_t len;
		const char *want;
	} cases[3];
	size_t big = PN_CONFIG_LINE_MAX + 10, i;
	char *line = pn_malloc(big + 1), *cont;
	pn_buf b;
	(void)state;

	memset(line, 'x', big);
	memcpy(line, "banner = ", 9);
	line[big] = '\0';
	/* Two lines under the limit that join to one above it. */
	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "banner = ");
	pn_buf_append(&b, line + 9, 40000);
	pn_buf_puts(&b, "\n  ");
	pn_buf_append(&b, line + 9, 40000);
	cont = pn_buf_steal(&b, NULL);

	cases[0].what = "NUL byte";
	cases[0].text = nul;
	cases[0].len = sizeof(nul) - 1;
	cases[0].want = F "2: line contains a NUL byte";
	cases[1].what = "overlong line";
	cases[1].text = line;
	cases[1].len = big;
	cases[1].want = F "1: line too long (more than 65536 bytes)";
	cases[2].what = "overlong logical line";
	cases[2].text = cont;
	cases[2].len = strlen(cont);
	cases[2].want = F "1: line too long (more than 65536 bytes)";
	for (i = 0; i < 3; i++) {
		char *err = NULL;
		pn_config *cfg = pn_config_parse_mem(cases[i].text, cases[i].len, FILE_NAME, table, &err);
		if (cfg != NULL)
			fail_msg("%s: got success, want error", cases[i].what);
		if (strcmp(err, cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].what, err, cases[i].want);
		pn_free(err);
	}
	pn_free(line);
	pn_free(cont);
}

/* long_values_quoted_short - messages quote at most 200 bytes of a value */
static void long_values_quoted_short(void **state)
{
	char text[1000], *err = NULL;
	size_t n;
	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "workers = ");
	memset(text + n, '9', 500);
	text[n + 500] = '\0';
	assert_null(pn_config_parse(text, "f", table, &err));
	if (strlen(err) > 300 || strstr(err, "...\": number out of range") == NULL)
		fail_msg("got \"%s\", want a cut value and \"number out of range\"", err);
	pn_free(err);
}

/* expansion_limits - deep chains and exponential growth are stopped */
static void expansion_limits(void **state)
{
	enum { N = 120 };
	pn_param deep[N + 1];
	char names[N][16], defs[N][24], *err = NULL;
	pn_config *cfg;
	int i;
	(void)state;

	/* p0 = $p1, p1 = $p2, ... : deeper than 100 levels */
	memset(deep, 0, sizeof(deep));
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "p%d", i);
		if (i + 1 < N)
			snprintf(defs[i], sizeof(defs[i]), "$p%d", i + 1);
		else
			snprintf(defs[i], sizeof(defs[i]), "end");
		deep[i].name = names[i];
		deep[i].type = PN_PARAM_STR;
		deep[i].default_value = defs[i];
	}
	assert_null(pn_config_parse("", "f", deep, &err));
	if (strstr(err, "expansion nested too deeply (more than 100 levels)") == NULL)
		fail_msg("deep chain: got \"%s\", want nesting error", err);
	pn_free(err);

	/* p0 = x, p_i = $p_{i-1}$p_{i-1}: 2^40 bytes unless stopped at 64 KB */
	snprintf(defs[0], sizeof(defs[0]), "x");
	for (i = 1; i < 41; i++)
		snprintf(defs[i], sizeof(defs[i]), "$p%d$p%d", i - 1, i - 1);
	deep[41].name = NULL;
	assert_null(pn_config_parse("", "f", deep, &err));
	if (strstr(err, "expanded value too long (more than 65536 bytes)") == NULL)
		fail_msg("doubling: got \"%s\", want length error", err);
	pn_free(err);

	/* The same with an empty p0 must be quick: each value expands once. */
	cfg = pn_config_parse("p0 =", "f", deep, &err);
	assert_non_null(cfg);
	assert_string_equal(pn_config_str(cfg, "p40"), "");
	pn_config_free(cfg);
}

static const pn_param dump_table[] = {
	{ "zeta", PN_PARAM_INT, "1", 0, 0, NULL, "last by name" },
	{ "alpha", PN_PARAM_STR, "$zeta/a", 0, 0, NULL, NULL },
	{ "mode", PN_PARAM_ENUM, "on", 0, 0, "on|off", "how" },
	{ "empty", PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
	{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
};

/* dump_text - run pn_config_dump into a string */
static char *dump_text(const pn_config *cfg, int only_changed)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	assert_non_null(fp);
	pn_config_dump(cfg, fp, only_changed);
	fclose(fp);
	return text;
}

/* dump_like_postconf - raw values in name order; -n shows the file's */
static void dump_like_postconf(void **state)
{
	struct {
		const char *what;
		const char *text;
		int only_changed;
		const char *want;
	} cases[] = {
		{ "defaults", "", 0,
		  "alpha = $zeta/a\nempty =\n# how\nmode = on\n# last by name\nzeta = 1\n" },
		{ "changed", "mode = OFF\nalpha = b # c\n", 0,
		  "alpha = b # c\nempty =\n# how\nmode = OFF\n# last by name\nzeta = 1\n" },
		{ "only changed", "zeta = 5\nalpha = x\n", 1, "alpha = x\nzeta = 5\n" },
		{ "set to default still shown by -n", "zeta = 1", 1, "zeta = 1\n" },
		{ "nothing changed", "", 1, "" },
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL, *got;
		pn_config *cfg = pn_config_parse(cases[i].text, NULL, dump_table, &err);
		if (cfg == NULL)
			fail_msg("%s: got error %s", cases[i].what, err);
		got = dump_text(cfg, cases[i].only_changed);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got\n%s\nwant\n%s", cases[i].what, got, cases[i].want);
		free(got);
		pn_config_free(cfg);
	}
}

/* defaults_and_path - defaults need no file; path and is_set report origin */
static void defaults_and_path(void **state)
{
	pn_config *cfg = pn_config_defaults(table);
	char *err = NULL;
	(void)state;
	assert_null(pn_config_path(cfg));
	assert_int_equal(pn_config_int(cfg, "workers"), 16);
	assert_int_equal(pn_config_bool(cfg, "enable_tls"), 1);
	assert_int_equal(pn_config_int(cfg, "timeout"), 300);
	assert_string_equal(pn_config_str(cfg, "socket"), "/run/postern/tls.sock");
	assert_string_equal(pn_config_str(cfg, "banner"), "");
	assert_int_equal(pn_config_is_set(cfg, "workers"), 0);
	pn_config_free(cfg);

	cfg = pn_config_parse("workers = 16", "x.conf", table, &err);
	assert_non_null(cfg);
	assert_string_equal(pn_config_path(cfg), "x.conf");
	assert_int_equal(pn_config_is_set(cfg, "workers"), 1);
	assert_int_equal(pn_config_is_set(cfg, "offset"), 0);
	pn_config_free(cfg);

	/* No filename: messages still say where. */
	assert_null(pn_config_parse("x = 1", NULL, table, &err));
	assert_string_equal(err, "(string):1: unknown parameter \"x\"");
	pn_free(err);
}

/* load_files - a real file, a missing one, a directory */
static void load_files(void **state)
{
	char *path = pn_asprintf("%s/test.conf", t_tmpdir("test_config")), *err = NULL, *want;
	static const char good[] = "# test\nworkers = 8\nmax_message_size = 1m\n";
	static const char bad[] = "# test\nworkers = 8\nmax_message_size = 1m\n\nworkers = 9x\n";
	pn_config *cfg;
	(void)state;

	assert_int_equal(t_write_file(path, good, strlen(good)), 0);
	cfg = pn_config_load(path, table, &err);
	if (cfg == NULL)
		fail_msg("load: got error %s", err);
	assert_string_equal(pn_config_path(cfg), path);
	assert_int_equal(pn_config_int(cfg, "workers"), 8);
	pn_config_free(cfg);

	assert_int_equal(t_write_file(path, bad, strlen(bad)), 0);
	assert_null(pn_config_load(path, table, &err));
	want = pn_asprintf("%s:5: parameter \"workers\" = \"9x\": not an integer", path);
	assert_string_equal(err, want);
	pn_free(want);
	pn_free(err);
	pn_free(path);

	assert_null(pn_config_load("/nonexistent/postern/tls.conf", table, &err));
	assert_string_equal(err, "/nonexistent/postern/tls.conf: cannot open: No such file or directory");
	pn_free(err);

	assert_null(pn_config_load("/tmp", table, &err));
	assert_string_equal(err, "/tmp: cannot read: Is a directory");
	pn_free(err);

	/* err may be NULL when the caller only wants success or failure. */
	assert_null(pn_config_load("/nonexistent/x", table, NULL));
}

/* aborts - run fn in a child and report whether it died by SIGABRT */
static int aborts(void (*fn)(void))
{
	int status, devnull;
	pid_t pid = fork();

	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		fn();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void get_unknown(void)
{
	pn_config *cfg = pn_config_defaults(table);
	pn_config_str(cfg, "nope");
}

static void get_int_as_str(void)
{
	pn_config *cfg = pn_config_defaults(table);
	pn_config_str(cfg, "workers");
}

static void get_str_as_int(void)
{
	pn_config *cfg = pn_config_defaults(table);
	pn_config_int(cfg, "banner");
}

static void get_int_as_bool(void)
{
	pn_config *cfg = pn_config_defaults(table);
	pn_config_bool(cfg, "workers");
}

static void bad_default(void)
{
	static const pn_param t[] = {
		{ "n", PN_PARAM_INT, "ten", 0, 0, NULL, NULL },
		{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
	};
	pn_config_defaults(t);
}

static void duplicate_name(void)
{
	static const pn_param t[] = {
		{ "n", PN_PARAM_INT, "1", 0, 0, NULL, NULL },
		{ "n", PN_PARAM_INT, "1", 0, 0, NULL, NULL },
		{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
	};
	pn_config_defaults(t);
}

static void min_above_max(void)
{
	static const pn_param t[] = {
		{ "n", PN_PARAM_INT, "1", 5, 1, NULL, NULL },
		{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
	};
	pn_config_defaults(t);
}

static void enum_without_choices(void)
{
	static const pn_param t[] = {
		{ "e", PN_PARAM_ENUM, "a", 0, 0, NULL, NULL },
		{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
	};
	pn_config_defaults(t);
}

static void fine(void)
{
	pn_config_free(pn_config_defaults(table));
}

/* misuse_aborts - programming errors are panics, not silent defaults */
static void misuse_aborts(void **state)
{
	struct {
		const char *what;
		void (*fn)(void);
		int want;
	} cases[] = {
		{ "unknown name", get_unknown, 1 },
		{ "int as str", get_int_as_str, 1 },
		{ "str as int", get_str_as_int, 1 },
		{ "int as bool", get_int_as_bool, 1 },
		{ "invalid default", bad_default, 1 },
		{ "duplicate table name", duplicate_name, 1 },
		{ "min above max", min_above_max, 1 },
		{ "enum without choices", enum_without_choices, 1 },
		{ "valid table", fine, 0 },
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = aborts(cases[i].fn);
		if (got != cases[i].want)
			fail_msg("%s: got abort=%d, want %d", cases[i].what, got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_ok),
		cmocka_unit_test(check_errors),
		cmocka_unit_test(nul_and_long_lines),
		cmocka_unit_test(long_values_quoted_short),
		cmocka_unit_test(expansion_limits),
		cmocka_unit_test(dump_like_postconf),
		cmocka_unit_test(defaults_and_path),
		cmocka_unit_test(load_files),
		cmocka_unit_test(misuse_aborts),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
