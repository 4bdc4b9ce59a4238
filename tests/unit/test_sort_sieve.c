/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sort_sieve - the Sieve interpreter: lexer, parser errors, matching, runs, limits */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "milters/sort/sieve.h"
#include "milters/sort/sieve_int.h"

static const char MSG[] =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org, Carol <carol@example.org>\n"
	"Subject: Hello world\n"
	"X-Score: 7\n"
	"Received: one\n"
	"Received: two\n"
	"\n"
	"Body text with the word banana.\n";

/* ---- lexer -------------------------------------------------------------- */

static void lexer_tokens(void **state)
{
	static const char text[] =
		"require [\"a\", \"b\\\"c\"]; # comment\n"
		"/* bracket */ if size :over 10K {\n"
		"  reject text:\r\n..dot\r\nline\r\n.\r\n;}";
	static const struct { sv_tok_type type; const char *text; unsigned long long num; int line, col; } want[] = {
		{SV_T_IDENT, "require", 0, 1, 1}, {SV_T_LBRACKET, NULL, 0, 1, 9},
		{SV_T_STRING, "a", 0, 1, 10}, {SV_T_COMMA, NULL, 0, 1, 13},
		{SV_T_STRING, "b\"c", 0, 1, 15}, {SV_T_RBRACKET, NULL, 0, 1, 21},
		{SV_T_SEMI, NULL, 0, 1, 22}, {SV_T_IDENT, "if", 0, 2, 15},
		{SV_T_IDENT, "size", 0, 2, 18}, {SV_T_TAG, "over", 0, 2, 23},
		{SV_T_NUMBER, NULL, 10240, 2, 29}, {SV_T_LBRACE, NULL, 0, 2, 33},
		{SV_T_IDENT, "reject", 0, 3, 3}, {SV_T_STRING, ".dot\r\nline\r\n", 0, 3, 10},
		{SV_T_SEMI, NULL, 0, 7, 1}, {SV_T_RBRACE, NULL, 0, 7, 2}, {SV_T_EOF, NULL, 0, 7, 3},
	};
	sv_lexer lx;
	sv_token t;
	size_t i;

	(void)state;
	sv_lex_init(&lx, text, strlen(text));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(sv_lex_next(&lx, &t), 0);
		if (t.type != want[i].type || t.line != want[i].line || t.col != want[i].col)
			fail_msg("token %zu: got %s at %d:%d, want %s at %d:%d", i,
				 sv_token_name(t.type), t.line, t.col, sv_token_name(want[i].type),
				 want[i].line, want[i].col);
		if (want[i].text && strcmp(t.text, want[i].text) != 0)
			fail_msg("token %zu: got \"%s\", want \"%s\"", i, t.text, want[i].text);
		if (want[i].type == SV_T_NUMBER && t.num != want[i].num)
			fail_msg("token %zu: got %llu, want %llu", i, t.num, want[i].num);
		sv_token_free(&t);
	}
	pn_free(lx.err);
}

/* ---- compile errors ----------------------------------------------------- */

static const struct err_case {
	const char *script;
	const char *want;	/* substring of the error, with line:col */
} err_cases[] = {
	{"keep", "t:1:5: expected ';' or '{' after the arguments of \"keep\", found end of script"},
	{"if true {\n keep;\n", "t:3:1: expected '}' to close the block opened at 1:9"},
	{"if header :is \"a\" { keep; }", "t:1:4: test \"header\" needs a string list as argument 2"},
	{"fileinto \"x\";", "t:1:1: unknown command \"fileinto\" (missing require \"fileinto\"?)"},
	{"require \"nope\";", "t:1:9: unsupported extension \"nope\""},
	{"keep;\nrequire \"fileinto\";", "t:2:1: require must come before"},
	{"else { keep; }", "t:1:1: \"else\" without a preceding if or elsif"},
	{"if header :is :is \"a\" \"b\" { keep; }", "t:1:15: tag \":is\" given twice"},
	{"if header :regex \"a\" \"b\" {}", "t:1:11: match type \":regex\" requires the \"regex\" extension"},
	{"redirect \"a b@c\";", "t:1:10: invalid redirect address"},
	{"\"x\";", "t:1:1: expected a command, found string \"x\""},
	{"if size :over 99999999999999999999999 {}", "t:1:15: number too large"},
	{"keep;\n  \"abc", "t:2:3: unterminated string"},
	{"if anyof(true false) {}", "t:1:15: test \"true\" takes no test as argument"},
	{"if header [\"a\" \"b\"] \"c\" {}", "t:1:16: expected ',' or ']' in the string list"},
	{"keep;\x01", "t:1:6: unexpected character 0x01"},
	{"keep; \0 stop;", "t:1:7: script contains a NUL byte"},
	{"require \"variables\";\nset \"a.\" \"x\";", "t:2:5: invalid variable name \"a.\""},
	{"require \"editheader\";\naddheader \"Bad Name\" \"v\";", "t:2:11: invalid header name \"Bad Name\""},
	{"require \"envelope\";\nif envelope \"bcc\" \"x\" {}", "t:2:13: unknown envelope part \"bcc\""},
	{"require \"variables\";\nset :lower :upper \"a\" \"b\";", "t:2:12: modifier \":upper\" cannot be combined"},
	{"require \"body\";\nif body :raw :text \"x\" {}", "t:2:14: body transform \":text\" conflicts with \":raw\""},
};

static void compile_errors_name_line_and_column(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		size_t len = strlen(c->script);
		char *err = NULL;
		sv_script *s;

		if (strstr(c->want, "NUL"))
			len = 13;	/* the case holds a NUL byte */
		s = sv_compile("t", c->script, len, NULL, &err);
		if (s != NULL)
			fail_msg("case %zu: compiled, want error \"%s\"", i, c->want);
		if (err == NULL || strstr(err, c->want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err ? err : "(null)", c->want);
		pn_free(err);
	}
}

static void compile_limits(void **state)
{
	sv_limits l;
	char *err = NULL;
	pn_buf b;
	int i;

	(void)state;
	sv_limits_default(&l);
	l.max_nesting = 4;
	{
		const char *deep = "if true { if true { if true { if true { if true { keep; } } } } }";
		assert_null(sv_compile("t", deep, strlen(deep), &l, &err));
	}
	if (strstr(err, "nested deeper than 4") == NULL)
		fail_msg("got \"%s\", want nesting error", err);
	pn_free(err);
	pn_buf_init(&b, 0);
	for (i = 0; i < 100; i++)
		pn_buf_puts(&b, "not ");
	pn_buf_puts(&b, "true");
	/* a long chain of "not" hits the nesting limit instead of the stack */
	{
		char *s = pn_asprintf("if %s { keep; }", pn_buf_str(&b));
		assert_null(sv_compile("t", s, strlen(s), &l, &err));
		assert_non_null(strstr(err, "nested deeper"));
		pn_free(err);
		pn_free(s);
	}
	pn_buf_free(&b);
	l.max_script_size = 10;
	assert_null(sv_compile("t", "keep; keep; keep;", 17, &l, &err));
	assert_non_null(strstr(err, "above the limit of 10"));
	pn_free(err);
	sv_limits_default(&l);
	l.max_regex_size = 8;
	{
		const char *re = "require \"regex\"; if header :regex \"a\" \"0123456789\" {}";
		assert_null(sv_compile("t", re, strlen(re), &l, &err));
	}
	assert_non_null(strstr(err, "above the limit of 8"));
	pn_free(err);
}

/* ---- matching ----------------------------------------------------------- */

static const struct match_case {
	int cmp, match, rel;
	const char *value, *key;
	int want;
	const char *caps;	/* "${1}|${2}|..." after a :matches, or NULL */
} match_cases[] = {
	{SV_CMP_CASEMAP, SV_MATCH_IS, 0, "Hello", "hello", 1, NULL},
	{SV_CMP_OCTET, SV_MATCH_IS, 0, "Hello", "hello", 0, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_CONTAINS, 0, "Hello world", "O W", 1, NULL},
	{SV_CMP_OCTET, SV_MATCH_CONTAINS, 0, "Hello world", "O W", 0, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_CONTAINS, 0, "", "", 1, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "alice@example.com", "*@*.*", 1, "alice|example|com"},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "abc", "**", 1, "|abc"},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "abc", "a?c", 1, "b"},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "a\xc3\xa9" "c", "a?c", 1, "\xc3\xa9"},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "a*c", "a\\*c", 1, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "abc", "a\\*c", 0, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "abc", "a\\bc", 1, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "", "*", 1, ""},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "", "?", 0, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "[list] subject", "[*] *", 1, "list|subject"},
	{SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0, "x.y.z", "*.*", 1, "x|y.z"},
	{SV_CMP_NUMERIC, SV_MATCH_IS, 0, "007", "7", 1, NULL},
	{SV_CMP_NUMERIC, SV_MATCH_IS, 0, "abc", "xyz", 1, NULL},	/* both infinite */
	{SV_CMP_NUMERIC, SV_MATCH_VALUE, SV_REL_GT, "12", "9", 1, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_VALUE, SV_REL_GT, "12", "9", 0, NULL},
	{SV_CMP_NUMERIC, SV_MATCH_VALUE, SV_REL_LT, "99999999999999999999999", "x", 1, NULL},
	{SV_CMP_NUMERIC, SV_MATCH_VALUE, SV_REL_NE, "10", "010", 0, NULL},
	{SV_CMP_CASEMAP, SV_MATCH_VALUE, SV_REL_EQ, "ABC", "abc", 1, NULL},
	{SV_CMP_OCTET, SV_MATCH_VALUE, SV_REL_LE, "ABC", "abc", 1, NULL},
};

static void match_types_and_comparators(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		sv_matcher m = {c->cmp, c->match, c->rel};
		sv_captures caps;
		unsigned long steps = 100000;
		int r;

		memset(&caps, 0, sizeof(caps));
		caps.wanted = 1;
		r = sv_match_value(&m, c->value, strlen(c->value), c->key, strlen(c->key), NULL,
				   &caps, &steps);
		if (r != c->want)
			fail_msg("case %zu: \"%s\" vs \"%s\": got %d, want %d", i, c->value, c->key, r,
				 c->want);
		if (c->caps) {
			pn_buf b;
			int k;
			pn_buf_init(&b, 0);
			for (k = 1; k < SV_MAX_MATCH_VARS && caps.v[k]; k++)
				pn_buf_printf(&b, "%s%s", k > 1 ? "|" : "", caps.v[k]);
			if (strcmp(pn_buf_str(&b), c->caps) != 0)
				fail_msg("case %zu: captures got \"%s\", want \"%s\"", i, pn_buf_str(&b),
					 c->caps);
			pn_buf_free(&b);
		}
		sv_captures_clear(&caps);
	}
}

static void matches_is_bounded(void **state)
{
	/* a pattern that backtracks badly without the failure table */
	char value[4001], key[64];
	sv_matcher m = {SV_CMP_CASEMAP, SV_MATCH_MATCHES, 0};
	unsigned long steps = 10UL * 1000 * 1000;

	(void)state;
	memset(value, 'a', 4000);
	value[4000] = '\0';
	snprintf(key, sizeof(key), "*a*a*a*a*a*a*a*a*a*b");
	assert_int_equal(sv_match_value(&m, value, 4000, key, strlen(key), NULL, NULL, &steps), 0);
	assert_true(steps > 0);
	steps = 50;
	assert_int_equal(sv_match_value(&m, value, 4000, key, strlen(key), NULL, NULL, &steps), -1);
}

static void contains_is_linear_and_charged(void **state)
{
	/* finding 8: a 61-byte key over 1 MB of "aaa..." took vlen x klen
	 * byte compares under ascii-casemap and was charged (vlen+klen)/256 */
	size_t vlen = 1 << 20;
	char *value = pn_malloc(vlen + 1), key[62], *lkey;
	sv_matcher m = {SV_CMP_CASEMAP, SV_MATCH_CONTAINS, 0};
	unsigned long steps = 100000;

	(void)state;
	memset(value, 'a', vlen);
	value[vlen] = '\0';
	memset(key, 'A', 60);
	key[60] = 'B';
	key[61] = '\0';
	assert_int_equal(sv_match_value(&m, value, vlen, key, 61, NULL, NULL, &steps), 0);
	assert_int_equal(100000 - steps, 1 + (vlen + 61) / 256);
	value[vlen - 1] = 'b';	/* the key ends the value, in another case */
	assert_int_equal(sv_match_value(&m, value, vlen, key, 61, NULL, NULL, &steps), 1);
	/* :matches pays for the literals it compares at each position:
	 * "*aaa...ac" (200 bytes) over 40,000 "a" compares 200 bytes at
	 * each of 40,000 positions */
	m.match = SV_MATCH_MATCHES;
	lkey = pn_malloc(201);
	memset(lkey, 'a', 200);
	lkey[0] = '*';
	lkey[199] = 'c';
	lkey[200] = '\0';
	steps = 100000;
	assert_int_equal(sv_match_value(&m, value, 40000, lkey, 200, NULL, NULL, &steps), -1);
	pn_free(lkey);
	pn_free(value);
}

/* many_fields - a message of n header fields "X: y" and a Subject */
static pn_msg *many_fields(size_t n)
{
	pn_msg *m = pn_msg_new(1 << 20, "/tmp");
	size_t i;

	pn_msg_add_header(m, "Subject", " hello");
	for (i = 0; i < n; i++)
		pn_msg_add_header(m, "X", " y");
	return m;
}

static void header_walks_are_charged_and_views_share_the_fields(void **state)
{
	static const char script[] = "require \"editheader\";\n"
		"if header :contains \"subject\" \"hello\" { addheader \"X-Seen\" \"1\"; }\n"
		"if header :contains \"subject\" \"nothing\" { discard; }\n"
		"deleteheader :index 1 \"subject\";\n";
	char *err = NULL;
	sv_script *s = sv_compile("t", script, sizeof(script) - 1, NULL, &err);
	pn_msg *m = many_fields(300000);
	sv_limits l;
	sv_env env;
	sv_result r;
	int i;

	(void)state;
	assert_non_null(s);
	sv_limits_default(&l);
	memset(&env, 0, sizeof(env));
	env.msg = m;
	env.from = "<a@example.com>";
	env.to = "<b@example.org>";
	env.limits = &l;
	/* many recipients' results over one message: each holds only its
	 * edits (one added field, one deletion mark per original field) */
	for (i = 0; i < 40; i++) {
		sv_result_init(&r, m);
		assert_int_equal(sv_run(s, &env, &r), 0);
		assert_null(r.error);
		assert_int_equal(r.nhdrs, 1);
		assert_non_null(r.deleted);
		assert_true(r.deleted[0]);
		sv_result_clear(&r);
	}
	/* three walks over 300,000 fields cost about 3 x 1172 steps */
	l.max_steps = 2000;
	sv_result_init(&r, m);
	assert_int_equal(sv_run(s, &env, &r), -1);
	assert_non_null(strstr(r.error, "run-time budget"));
	assert_int_equal(r.nhdrs, 0);	/* the failed run's edits are undone */
	sv_result_clear(&r);
	pn_msg_free(m);
	sv_script_free(s);
}

static void count_matches(void **state)
{
	sv_matcher m = {SV_CMP_NUMERIC, SV_MATCH_COUNT, SV_REL_GE};

	(void)state;
	assert_int_equal(sv_match_count(&m, 3, "2", 1), 1);
	assert_int_equal(sv_match_count(&m, 1, "2", 1), 0);
	m.rel = SV_REL_EQ;
	assert_int_equal(sv_match_count(&m, 0, "0", 1), 1);
}

/* ---- runs --------------------------------------------------------------- */

/* run_script - compile and run a script for one recipient; the printed actions */
static char *run_script(const char *script, const char *to, const sv_limits *l, char **error)
{
	char *err = NULL, *out = NULL;
	size_t outlen = 0;
	sv_script *s = sv_compile("t", script, strlen(script), l, &err);
	pn_msg *m;
	sv_env env;
	sv_result r;
	FILE *fp;

	if (s == NULL)
		fail_msg("compile: %s", err);
	m = pn_msg_load(MSG, strlen(MSG), 1 << 20, "/tmp");
	pn_msg_set_sender(m, "<alice@example.com>", NULL);
	memset(&env, 0, sizeof(env));
	env.msg = m;
	env.from = m->sender;
	env.to = to;
	env.body = sv_body_new();
	env.limits = l;
	sv_result_init(&r, m);
	sv_run(s, &env, &r);
	fp = open_memstream(&out, &outlen);
	sv_result_print(&r, fp);
	fclose(fp);
	if (error)
		*error = r.error ? pn_strdup(r.error) : NULL;
	sv_result_clear(&r);
	sv_body_free(env.body);
	pn_msg_free(m);
	sv_script_free(s);
	return out;
}

static const struct run_case {
	const char *script;
	const char *want;
} run_cases[] = {
	{"", "keep\n"},
	{"discard;", "discard\n"},
	{"keep; discard;", "keep\ndiscard\n"},
	{"if address :domain \"to\" \"example.org\" { redirect \"x@example.net\"; }",
	 "redirect \"x@example.net\"\n"},
	{"if address :count \"eq\" :comparator \"i;ascii-numeric\" \"to\" \"2\" { discard; }", NULL},
	{"require [\"relational\", \"comparator-i;ascii-numeric\"];\n"
	 "if address :count \"eq\" :comparator \"i;ascii-numeric\" \"to\" \"2\" { discard; }",
	 "discard\n"},
	{"require [\"envelope\", \"subaddress\", \"fileinto\", \"variables\"];\n"
	 "if envelope :detail :matches \"to\" \"*\" { fileinto \"${1}\"; }",
	 "fileinto \"lists\"\n"},
	{"require \"body\"; if body :contains \"BANANA\" { discard; }", "discard\n"},
	{"require \"body\"; if body :raw :matches \"*banana.\\r\\n\" { discard; }", "keep\n"},
	{"require \"body\"; if body :raw :matches \"*banana.\r\n\" { discard; }", "discard\n"},
	{"if header :is \"received\" \"two\" { discard; }", "discard\n"},
	{"if size :over 100 { discard; }", "discard\n"},
	{"require \"editheader\"; deleteheader :index 2 \"received\";", "keep\n"},
	{"require \"editheader\"; deleteheader :index 1 :last \"x-score\"; if not exists \"x-score\" { discard; }",
	 "deleteheader \"x-score\" 1\ndiscard\n"},
	{"require [\"copy\", \"fileinto\"]; fileinto :copy \"A\"; fileinto \"A\";", "fileinto \"A\"\n"},
	{"stop; discard;", "keep\n"},
};

static void runs_give_actions(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(run_cases) / sizeof(run_cases[0]); i++) {
		const struct run_case *c = &run_cases[i];
		char *err = NULL, *out;
		sv_script *s;

		if (c->want == NULL) {	/* must not compile (relational not required) */
			s = sv_compile("t", c->script, strlen(c->script), NULL, &err);
			if (s != NULL)
				fail_msg("case %zu: compiled without require", i);
			pn_free(err);
			continue;
		}
		out = run_script(c->script, "<bob+lists@example.org>", NULL, NULL);
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: %s\ngot:\n%swant:\n%s", i, c->script, out, c->want);
		free(out);
	}
}

static void runtime_limits_give_implicit_keep(void **state)
{
	static const struct { const char *script; const char *error; } cases[] = {
		{"redirect \"a@x.y\"; redirect \"b@x.y\"; redirect \"c@x.y\";", "more than 2 redirects"},
		{"require \"fileinto\"; fileinto \"a\"; fileinto \"b\"; fileinto \"c\"; fileinto \"d\";",
		 "more than 3 actions"},
		{"require \"editheader\"; addheader \"X-A\" \"1\"; addheader \"X-B\" \"1\"; "
		 "addheader \"X-C\" \"1\";", "more than 2 header edits"},
		{"require \"variables\"; set \"a\" \"1\"; set \"b\" \"1\"; set \"c\" \"1\";",
		 "more than 2 variables"},
		{"require \"reject\"; keep; reject \"no\";", "conflicts with keep"},
		{"require \"variables\"; set \"x\" \"bad address\"; redirect \"${x}\";",
		 "invalid address"},
		{"if header :contains \"subject\" \"a\" { keep; } if true {} if true {} if true {} "
		 "if true {} if true {} if true {} if true {} if true {} if true {} if true {}",
		 "run-time budget"},
	};
	sv_limits l;
	size_t i;

	(void)state;
	sv_limits_default(&l);
	l.max_redirects = 2;
	l.max_actions = 3;
	l.max_header_edits = 2;
	l.max_variables = 2;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL, *out;
		l.max_steps = i == 6 ? 12 : 100000;
		out = run_script(cases[i].script, "<bob@example.org>", &l, &err);
		if (err == NULL || strstr(err, cases[i].error) == NULL)
			fail_msg("case %zu: error got \"%s\", want \"%s\"", i, err ? err : "(none)",
				 cases[i].error);
		if (strcmp(out, "keep\n") != 0)
			fail_msg("case %zu: got actions \"%s\", want only the implicit keep", i, out);
		free(out);
		pn_free(err);
	}
}

static void header_value_is_safe(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{"plain", "plain"},
		{"two\nlines", "two\n lines"},
		{"crlf\r\n\tfold", "crlf\n\tfold"},
		{"ctl\x01x", "ctl x"},
		{"caf\xc3\xa9", "=?UTF-8?B?Y2Fmw6k=?="},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *v = sv_header_value(cases[i].in, strlen(cases[i].in));
		if (strcmp(v, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, v, cases[i].want);
		pn_free(v);
	}
}

/* ---- envelope address ---------------------------------------------------- */

static void envelope_address_is_canonical_in_the_mtas_case(void **state)
{
	static const struct {
		const char *mta, *path, *local, *domain;
	} cases[] = {
		{NULL, "<bob@Example.ORG>", "bob", "Example.ORG"},
		{NULL, "<bob(work)@Example.ORG.>", "bob", "Example.ORG"},
		{NULL, "<@relay.example:Bob@Example.ORG>", "Bob", "Example.ORG"},
		{NULL, "<\"bob\"@example.org>", "bob", "example.org"},
		{NULL, "<\"b o\\\"b\"@example.org>", "\"b o\\\"b\"", "example.org"},
		{NULL, "< bob@Example.ORG >", "bob", "Example.ORG"},
		/* the written spelling is kept only when it is the same domain */
		{NULL, "<bob@example.org(x@Evil.Example)>", "bob", "example.org"},
		{NULL, "<bob@B\xc3\x9c" "CHER.example>", "bob", "B\xc3\x9c" "CHER.example"},
		{"bob@Example.ORG", "<bob(x)@Example.ORG.>", "bob", "Example.ORG"},
		{"bob@example.net", "<bob@Example.ORG>", "bob", "example.net"},
		{NULL, "<>", "", ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_addr canon, v;
		int ok = pn_addr_parse_envelope(cases[i].mta, cases[i].path, &canon) == 0;

		assert_true(ok);
		assert_int_equal(sv_envelope_address(cases[i].path, &canon, &v), 0);
		assert_string_equal(v.local, cases[i].local);
		assert_string_equal(v.domain, cases[i].domain);
		pn_addr_clear(&v);
		pn_addr_clear(&canon);
	}
	/* no domain: the caller compares the path whole */
	assert_int_equal(sv_envelope_address("<postmaster>", NULL, &(pn_addr){0}), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lexer_tokens),
		cmocka_unit_test(compile_errors_name_line_and_column),
		cmocka_unit_test(compile_limits),
		cmocka_unit_test(match_types_and_comparators),
		cmocka_unit_test(matches_is_bounded),
		cmocka_unit_test(count_matches),
		cmocka_unit_test(contains_is_linear_and_charged),
		cmocka_unit_test(header_walks_are_charged_and_views_share_the_fields),
		cmocka_unit_test(runs_give_actions),
		cmocka_unit_test(runtime_limits_give_implicit_keep),
		cmocka_unit_test(header_value_is_safe),
		cmocka_unit_test(envelope_address_is_canonical_in_the_mtas_case),
	};
	return cmocka_run_group_tests_name("sort_sieve", tests, NULL, NULL);
}
