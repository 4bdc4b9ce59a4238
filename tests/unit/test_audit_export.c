/* SPDX-License-Identifier: BSD-2-Clause */
/* test_audit_export - filters and formats of `postern-audit export`
 *
 * The sample trail tests/unit/data/audit/trail-sample.jsonl holds the
 * golden records of test_audit_record, each with its own day and queue id,
 * chained as the daemon chains them. Each case exports it with a filter and
 * a format and compares the output with export-NAME.ref.
 * AUDIT_UPDATE_GOLDEN=1 rebuilds the sample trail and the .ref files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "milters/audit/chain.h"
#include "milters/audit/export.h"
#include "milters/audit/reader.h"
#include "milters/audit/verify.h"
#include "tests/unit/testlib.h"

static const char *sample_records[] = {
	"plain", "encoded_words", "groups", "duplicates", "attachments", "invalid_utf8",
	"eightbit", "aborted", "connection", "local_null_sender", "privacy", "geo", NULL
};

typedef struct filter_arg {
	audit_filter_kind kind;
	const char *value;
} filter_arg;

typedef struct export_case {
	const char *name;
	audit_format fmt;
	filter_arg filters[4];	/* ended by a NULL value */
} export_case;

#define END {AUDIT_F_KINDS, NULL}

static const export_case cases[] = {
	{"all-json", AUDIT_FMT_JSON, {END}},
	{"all-csv", AUDIT_FMT_CSV, {END}},
	{"since-until", AUDIT_FMT_JSONL,
	 {{AUDIT_F_SINCE, "2024-05-03"}, {AUDIT_F_UNTIL, "2024-05-06T12:00:00+02:00"}, END}},
	{"from-domain", AUDIT_FMT_JSONL, {{AUDIT_F_FROM, "@EXAMPLE.com"}, END}},
	{"rcpt-address", AUDIT_FMT_CSV, {{AUDIT_F_RCPT, "Eve@Example.net"}, END}},
	{"rcpt-two", AUDIT_FMT_JSONL,
	 {{AUDIT_F_RCPT, "francois@example.fr"}, {AUDIT_F_RCPT, "@ejemplo.es"}, END}},
	{"client-cidr", AUDIT_FMT_CSV, {{AUDIT_F_CLIENT, "192.0.2.0/29, 2001:db8::/32"}, END}},
	{"country", AUDIT_FMT_JSON, {{AUDIT_F_COUNTRY, "de"}, END}},
	{"queue-id", AUDIT_FMT_JSONL, {{AUDIT_F_QUEUE_ID, "4VQ1xY2ZbC4"}, END}},
	{"nothing", AUDIT_FMT_JSON, {{AUDIT_F_FROM, "nobody@nowhere.example"}, END}},
	{"combined", AUDIT_FMT_CSV,
	 {{AUDIT_F_FROM, "@example.com"}, {AUDIT_F_SINCE, "2024-05-04T00:00Z"}, END}},
};

typedef struct fixture {
	char *data;
	char *sample;
	char *dir;
	int update;
} fixture;

/* replace_once - s with the first "from" replaced by "to" */
static char *replace_once(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);

	if (p == NULL)
		return pn_strdup(s);
	return pn_asprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

/* build_sample - chain the golden records into the sample trail */
static void build_sample(const fixture *fx)
{
	FILE *out = fopen(fx->sample, "wb");
	audit_head head;
	pn_buf line;
	int i;

	assert_non_null(out);
	audit_head_init(&head);
	pn_buf_init(&line, 0);
	for (i = 0; sample_records[i]; i++) {
		char *path = pn_asprintf("%s/%s.json", fx->data, sample_records[i]);
		char ts[64], qid[32];
		size_t n;
		char *rec = t_read_file(path, &n), *a, *b;

		assert_non_null(rec);
		rec[strcspn(rec, "\n")] = '\0';
		snprintf(ts, sizeof(ts), "2024-05-%02dT10:00:00.000Z", i + 1);
		snprintf(qid, sizeof(qid), "4VQ1xY2ZbC%d", i);
		a = replace_once(rec, "2024-05-01T12:00:03.250Z", ts);
		b = replace_once(a, "4VQ1xY2ZbCz", qid);
		assert_int_equal(audit_chain_seal(&line, b, strlen(b), &head, NULL, 0), 0);
		fprintf(out, "%s\n", pn_buf_str(&line));
		audit_chain_advance(&head, head.seq + 1, pn_buf_str(&line), pn_buf_len(&line));
		pn_free(a);
		pn_free(b);
		pn_free(rec);
		pn_free(path);
	}
	pn_buf_free(&line);
	fclose(out);
}

static int setup(void **state)
{
	const char *top = getenv("POSTERN_TOP");
	const char *tmp = getenv("TMPDIR");
	const char *up = getenv("AUDIT_UPDATE_GOLDEN");
	fixture *fx = pn_calloc(1, sizeof(*fx));

	if (top == NULL)
		top = ".";
	fx->data = pn_asprintf("%s/tests/unit/data/audit", top);
	fx->sample = pn_asprintf("%s/trail-sample.jsonl", fx->data);
	fx->update = up && *up == '1';
	fx->dir = pn_asprintf("%s/test_audit_export.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	*state = fx;
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	if (fx->update)
		build_sample(fx);
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	char *gz = pn_asprintf("%s/sample.jsonl.gz", fx->dir);

	unlink(gz);
	rmdir(fx->dir);
	pn_free(gz);
	pn_free(fx->dir);
	pn_free(fx->sample);
	pn_free(fx->data);
	pn_free(fx);
	return 0;
}

/* export_file - run an export of one file to a string */
static char *export_file(const char *path, const export_case *c)
{
	audit_filter f;
	audit_export *x;
	audit_reader *r;
	char *text = NULL, *err = NULL, *copy;
	const char *line;
	size_t len, i;
	FILE *out = open_memstream(&text, &len);
	int complete;

	audit_filter_init(&f);
	for (i = 0; c->filters[i].value; i++)
		if (audit_filter_add(&f, c->filters[i].kind, c->filters[i].value, &err) < 0)
			fail_msg("%s: filter %s: %s", c->name, c->filters[i].value, err);
	r = audit_reader_open(path, &err);
	if (r == NULL)
		fail_msg("%s", err);
	x = audit_export_new(&f, c->fmt, out);
	while (audit_reader_line(r, &line, &len, &complete) == 1)
		if (audit_export_line(x, line, len) < 0)
			fail_msg("%s: line %lu is not a record", path, audit_reader_lineno(r));
	assert_int_equal(audit_export_finish(x), 0);
	assert_int_equal(audit_reader_close(r, &err), 0);
	audit_filter_free(&f);
	fclose(out);
	copy = pn_strdup(text);
	free(text);
	return copy;
}

/* sample_trail_is_intact - the fixture is a real chain (written before
 * trail identities, so it starts after the all-zero head, not a trail-start) */
static void sample_trail_is_intact(void **state)
{
	fixture *fx = *state;
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);
	audit_head zero;
	audit_verify_opts o;
	int rc;

	audit_head_init(&zero);
	memset(&o, 0, sizeof(o));
	o.no_key = 1;
	o.after = &zero;
	rc = audit_verify_ex(&fx->sample, 1, &o, out);

	fclose(out);
	if (rc != 0 || strstr(text, "12 records") == NULL)
		fail_msg("verify got rc %d \"%s\", want 12 intact records", rc, text);
	free(text);
}

/* golden_exports - each filter and format against its .ref file */
static void golden_exports(void **state)
{
	fixture *fx = *state;
	size_t i, failures = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = export_file(fx->sample, &cases[i]);
		char *path = pn_asprintf("%s/export-%s.ref", fx->data, cases[i].name);
		size_t n;
		char *want = t_read_file(path, &n);

		if (fx->update) {
			FILE *f = fopen(path, "wb");
			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		} else if (want == NULL || strcmp(got, want) != 0) {
			print_error("export %s: got\n%s\nwant\n%s\n", cases[i].name, got,
				    want ? want : "(missing .ref file)");
			failures++;
		}
		pn_free(want);
		pn_free(path);
		pn_free(got);
	}
	if (failures)
		fail_msg("%zu export(s) differ from their .ref files", failures);
}

/* gzip_input_exports_the_same - rotated, compressed files read alike */
static void gzip_input_exports_the_same(void **state)
{
	fixture *fx = *state;
	char *gz = pn_asprintf("%s/sample.jsonl.gz", fx->dir);
	char *cmd[] = {"sh", "-c", "gzip -c \"$0\" > \"$1\"", fx->sample, gz, NULL};
	pid_t pid = fork();
	int status;
	char *a, *b;

	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	assert_true(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
		    && WEXITSTATUS(status) == 0);
	a = export_file(fx->sample, &cases[0]);
	b = export_file(gz, &cases[0]);
	assert_string_equal(a, b);
	pn_free(a);
	pn_free(b);
	pn_free(gz);
}

/* times_parse_as_rfc3339 - the forms --since and --until accept */
static void times_parse_as_rfc3339(void **state)
{
	static const struct {
		const char *text;
		long long ms;
	} good[] = {
		{"2024-05-01", 1714521600000LL},
		{"2024-05-01T12:00", 1714564800000LL},
		{"2024-05-01 12:00:03", 1714564803000LL},
		{"2024-05-01T12:00:03.25Z", 1714564803250LL},
		{"2024-05-01T14:00:03.250+02:00", 1714564803250LL},
		{"2024-05-01T07:30:00-04:30", 1714564800000LL},
	};
	static const char *bad[] = {"", "yesterday", "2024-5-1", "2024-05-01T12", "2024-13-01",
				    "2024-05-01T12:00:03.", "2024-05-01T12:00+2", "2024-05-01Z"};
	long long ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (audit_time_parse(good[i].text, &ms) < 0)
			fail_msg("\"%s\" refused", good[i].text);
		if (ms != good[i].ms)
			fail_msg("\"%s\": got %lld, want %lld", good[i].text, ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (audit_time_parse(bad[i], &ms) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sample_trail_is_intact),
		cmocka_unit_test(golden_exports),
		cmocka_unit_test(gzip_input_exports_the_same),
		cmocka_unit_test(times_parse_as_rfc3339),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
