/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tls_postfix_map - postfix-map output and --check reports against golden files
 *
 * Inputs and expected outputs live in tests/unit/data/tls/ (found from
 * $POSTERN_TOP, else the current directory). POSTERN_UPDATE_GOLDEN=1
 * rewrites the .ref files from the current output (review the diff!).
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
#include "common/buf.h"
#include "milters/tls/postfix_map.h"
#include "tests/unit/testlib.h"

/* data_path - tests/unit/data/tls/NAME under the source tree */
static char *data_path(const char *name)
{
	const char *top = getenv("POSTERN_TOP");

	return pn_asprintf("%s/tests/unit/data/tls/%s", top && *top ? top : ".", name);
}

/* slurp - a whole data file, or NULL */
static char *slurp(const char *name, size_t *len)
{
	char *path = data_path(name), *text = t_read_file(path, len);

	pn_free(path);
	return text;
}

/* golden - compare got with NAME.ref (or rewrite it when asked) */
static int golden(const char *ref, const char *got)
{
	char *want;
	size_t len;
	int same;

	if (getenv("POSTERN_UPDATE_GOLDEN")) {
		char *path = data_path(ref);
		FILE *fp = fopen(path, "w");
		pn_free(path);
		if (fp == NULL)
			return 0;
		fputs(got, fp);
		fclose(fp);
		return 1;
	}
	if ((want = slurp(ref, &len)) == NULL) {
		fprintf(stderr, "%s: missing (POSTERN_UPDATE_GOLDEN=1 writes it)\n", ref);
		return 0;
	}
	same = strcmp(want, got) == 0;
	if (!same)
		fprintf(stderr, "%s:\n--- got\n%s--- want\n%s---\n", ref, got, want);
	pn_free(want);
	return same;
}

/* load_policy - a data file parsed under its base name */
static ptls_policy_set *load_policy(const char *name)
{
	size_t len;
	char *text = slurp(name, &len), *err = NULL;
	ptls_policy_set *s;

	if (text == NULL)
		return NULL;
	s = ptls_policy_parse(text, len, name, &err);
	if (s == NULL)
		fprintf(stderr, "%s\n", err);
	pn_free(err);
	pn_free(text);
	return s;
}

/* capture_start - a stream whose output capture_end() returns as a string */
static FILE *capture_start(char **buf, size_t *len)
{
	return open_memstream(buf, len);
}

/* capture_end - close the stream, return what was written (pn_free it) */
static char *capture_end(FILE *fp, char **buf)
{
	char *copy;

	fclose(fp);	/* only now is *buf final */
	copy = pn_strdup(*buf);
	free(*buf);
	return copy;
}

/* test_export - the table written for every kind of policy line */
static void test_export(void **state)
{
	ptls_policy_set *s = load_policy("export.policy");
	char *buf = NULL, *got;
	size_t len = 0;
	FILE *fp;

	(void)state;
	assert_non_null(s);
	fp = capture_start(&buf, &len);
	ptls_postfix_map_write(s, fp);
	got = capture_end(fp, &buf);
	assert_true(golden("export.map.ref", got));
	pn_free(got);
	ptls_policy_free(s);
}

/* The tables checked against export.policy and their expected reports. */
static const struct check_case {
	const char *table, *ref;
	int weaknesses;
} checks[] = {
	{"check.table", "check.ref", 8},
	{"check-ok.table", "check-ok.ref", 0},
};

/* test_check - weaknesses found, one line each, with both files' line numbers */
static void test_check(void **state)
{
	ptls_policy_set *s = load_policy("export.policy");
	size_t i, bad = 0;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		char *buf = NULL, *got, *err = NULL, *text;
		size_t len = 0, tlen;
		FILE *fp;
		int n;

		text = slurp(checks[i].table, &tlen);
		assert_non_null(text);
		fp = capture_start(&buf, &len);
		n = ptls_postfix_map_check(s, text, tlen, checks[i].table, fp, &err);
		got = capture_end(fp, &buf);
		if (n != checks[i].weaknesses) {
			fprintf(stderr, "%s: got %d weaknesses (%s), want %d\n", checks[i].table, n,
				err ? err : "-", checks[i].weaknesses);
			bad++;
		}
		if (!golden(checks[i].ref, got))
			bad++;
		pn_free(got);
		pn_free(text);
		pn_free(err);
	}
	ptls_policy_free(s);
	assert_int_equal(bad, 0);
}

/* test_check_errors - tables Postfix would not accept either */
static void test_check_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"  encrypt\n", "t:1: continuation line before any entry"},
		{"# x\na.example\n", "t:2: entry without a security level"},
		{"a.example encrypt\nb.example\0 may\n", "t:2: NUL byte"},
	};
	ptls_policy_set *s = load_policy("export.policy");
	size_t i, bad = 0;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		size_t len = strlen(cases[i].text);
		FILE *fp = fopen("/dev/null", "w");
		int n;
		if (i == 2)
			len = sizeof("a.example encrypt\nb.example\0 may\n") - 1;
		n = ptls_postfix_map_check(s, cases[i].text, len, "t", fp, &err);
		fclose(fp);
		if (n != -1 || err == NULL || strcmp(err, cases[i].want) != 0) {
			fprintf(stderr, "case %zu: got %d %s, want -1 %s\n", i, n, err ? err : "-",
				cases[i].want);
			bad++;
		}
		pn_free(err);
	}
	ptls_policy_free(s);
	assert_int_equal(bad, 0);
}

/* test_idn - an internationalised key is exported and checked in both spellings */
static void test_idn(void **state)
{
	static const char policy[] = "b\xc3\xbc" "cher.example direction=outbound min_version=TLSv1.2\n";
	static const char weak[] = "xn--bcher-kva.example encrypt protocols=>=TLSv1.2\n"
				   "B\xc3\x9c" "CHER.example may\n";
	char *err = NULL, *buf = NULL, *out;
	size_t len = 0;
	ptls_policy_set *s = ptls_policy_parse(policy, strlen(policy), "p", &err);
	FILE *fp;
	int n;

	(void)state;
	assert_non_null(s);
	fp = open_memstream(&buf, &len);
	ptls_postfix_map_write(s, fp);
	fclose(fp);
	out = pn_strdup(buf);
	free(buf);
	assert_non_null(strstr(out, "\nxn--bcher-kva.example  encrypt protocols=>=TLSv1.2\n"));
	assert_non_null(strstr(out, "\nb\xc3\xbc" "cher.example"));
	/* our own export checks clean */
	fp = fopen("/dev/null", "w");
	assert_int_equal(ptls_postfix_map_check(s, out, strlen(out), "export", fp, &err), 0);
	/* a weak U-label entry next to a good A-label one is found */
	n = ptls_postfix_map_check(s, weak, strlen(weak), "weak", fp, &err);
	fclose(fp);
	assert_int_equal(n, 2);
	pn_free(out);
	ptls_policy_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_errors),
		cmocka_unit_test(test_idn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
