/* SPDX-License-Identifier: BSD-2-Clause */
/* test_audit_chain - hash chain, MAC, trail file and verify of postern-audit
 *
 * Trails are written by the real trail code to a temp directory; verify
 * must accept them, and must catch each kind of tampering at the right
 * file:line: an edited, deleted, inserted or reordered record, a record
 * cut short, the oldest records deleted, and (with a checkpoint) records
 * removed from the end. Identity, gaps and sealing: test_audit_seal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "milters/audit/chain.h"
#include "milters/audit/trail.h"
#include "milters/audit/verify.h"

static const unsigned char KEY[] = "a-test-key-of-more-than-16-bytes";
#define KEYLEN (sizeof(KEY) - 1)

typedef struct fixture {
	char *dir;
	int n;
} fixture;

/* run - a command without a shell */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	fixture *fx = pn_calloc(1, sizeof(*fx));

	fx->dir = pn_asprintf("%s/test_audit_chain.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	/* Warnings about damaged trails are expected here: keep the output TAP. */
	pn_log_set_level(PN_LOG_ERROR);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	char *argv[] = {"rm", "-rf", fx->dir, NULL};

	run(argv);
	pn_free(fx->dir);
	pn_free(fx);
	return 0;
}

/* fresh_path - a new file name in the fixture directory */
static char *fresh_path(fixture *fx, const char *what)
{
	return pn_asprintf("%s/%s-%d.jsonl", fx->dir, what, ++fx->n);
}

/* body - a small record body */
static char *body(int i)
{
	return pn_asprintf("{\"ts\":\"2024-05-01T12:00:%02d.000Z\",\"event\":\"message\","
			   "\"headers\":{\"subject\":\"record %d\"}}", i % 60, i);
}

/* key_file_for - a sealing key file (mode 0600) beside path holding key */
static char *key_file_for(const char *path, const unsigned char *key)
{
	char *kf = pn_asprintf("%s.key", path);
	FILE *f = fopen(kf, "wb");

	assert_non_null(f);
	fwrite(key, 1, KEYLEN, f);
	fclose(f);
	assert_int_equal(chmod(kf, 0600), 0);
	return kf;
}

/* open_trail - a trail at path, sealed with key when given (a new process) */
static audit_trail *open_trail(const char *path, audit_sync sync, const unsigned char *key)
{
	audit_trail_opts o;
	audit_trail *t;
	char *kf = key ? key_file_for(path, key) : NULL;

	audit_trail_opts_init(&o);
	o.mode = 0600;
	o.sync = sync;
	o.host = "test.example";
	o.key_file = kf;
	t = audit_trail_open(path, &o);
	pn_free(kf);
	return t;
}

/* append_n - n records through a trail at path */
static void append_n(const char *path, int from, int n, const unsigned char *key)
{
	audit_trail *t = open_trail(path, AUDIT_SYNC_NEVER, key);
	pn_buf line;
	int i;

	pn_buf_init(&line, 0);
	for (i = from; i < from + n; i++) {
		char *b = body(i), *err = NULL;
		if (audit_trail_append(t, b, strlen(b), &line, &err) < 0)
			fail_msg("append %d: %s", i, err);
		pn_free(b);
	}
	pn_buf_free(&line);
	audit_trail_put(t);
}

/* read_lines - a file's lines (newlines kept) */
static char **read_lines(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char **v = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t len;

	*n = 0;
	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		v = pn_realloc(v, (*n + 1) * sizeof(char *));
		v[(*n)++] = pn_memdup0(line, (size_t)len);
	}
	free(line);
	fclose(f);
	return v;
}

/* write_lines - the lines back, in the given order of indexes (-1 ends) */
static void write_lines(const char *path, char **lines, const int *order)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	for (; *order >= 0; order++)
		fputs(lines[*order], f);
	fclose(f);
}

/* free_lines - free read_lines' result */
static void free_lines(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* verify_text - run verify on files, return its output and set *rc */
static char *verify_text(char **files, size_t n, const unsigned char *key,
			 const audit_head *head, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	char *copy;

	*rc = audit_verify(files, n, key, key ? KEYLEN : 0, head, out);
	fclose(out);
	copy = pn_strdup(text);
	free(text);
	return copy;
}

/* seal_parse_and_mac - the line format and its checks */
static void seal_parse_and_mac(void **state)
{
	audit_head h;
	audit_link l;
	pn_buf line;
	char *err = NULL;
	const char *b = "{\"ts\":\"x\"}";

	(void)state;
	audit_head_init(&h);
	pn_buf_init(&line, 0);
	assert_int_equal(audit_chain_seal(&line, b, strlen(b), &h, NULL, 0), 0);
	assert_string_equal(pn_buf_str(&line), "{\"schema\":1,\"seq\":1,\"ts\":\"x\",\"prev\":\""
			    AUDIT_ZERO_HASH "\"}");
	assert_int_equal(audit_chain_parse(pn_buf_str(&line), pn_buf_len(&line), &l, &err), 0);
	assert_int_equal(l.seq, 1);
	assert_false(l.has_mac);
	audit_chain_advance(&h, 1, pn_buf_str(&line), pn_buf_len(&line));
	assert_string_equal(h.hash, l.hash);

	assert_int_equal(audit_chain_seal(&line, b, strlen(b), &h, KEY, KEYLEN), 0);
	assert_int_equal(audit_chain_parse(pn_buf_str(&line), pn_buf_len(&line), &l, &err), 0);
	assert_int_equal(l.seq, 2);
	assert_true(l.has_mac);
	assert_string_equal(l.prev, h.hash);
	assert_true(audit_chain_mac_ok(pn_buf_str(&line), pn_buf_len(&line), &l, KEY, KEYLEN));
	assert_false(audit_chain_mac_ok(pn_buf_str(&line), pn_buf_len(&line), &l,
					(const unsigned char *)"another-key-of-16-bytes", 23));
	strstr(line.data, "\"x\"")[1] = 'y';	/* the value of "ts" */
	assert_int_equal(audit_chain_parse(pn_buf_str(&line), pn_buf_len(&line), &l, &err), 0);
	assert_false(audit_chain_mac_ok(pn_buf_str(&line), pn_buf_len(&line), &l, KEY, KEYLEN));
	pn_buf_free(&line);

	static const char *bad[] = {
		"", "not json", "{\"seq\":1}", "{\"seq\":0,\"prev\":\"" AUDIT_ZERO_HASH "\"}",
		"{\"seq\":\"1\",\"prev\":\"" AUDIT_ZERO_HASH "\"}", "{\"seq\":1,\"prev\":\"abc\"}",
		"{\"seq\":1,\"prev\":\"" AUDIT_ZERO_HASH "\"} trailing",
		"{\"seq\":1,\"mac\":\"" AUDIT_ZERO_HASH "\",\"prev\":\"" AUDIT_ZERO_HASH "\"}",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (audit_chain_parse(bad[i], strlen(bad[i]), &l, &err) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(err);
		pn_free(err);
	}
	assert_int_equal(audit_head_parse("42:" AUDIT_ZERO_HASH "\n", &h), 0);
	assert_int_equal(h.seq, 42);
	assert_int_equal(audit_head_parse("42:" "abc", &h), -1);
}

/* feed - lines[0..n) except skip (-1: none) to a verifier placed at "host h trail t" */
static char *feed(char **lines, size_t n, int skip, int *rc)
{
	audit_verify_opts o;
	audit_verifier *v;
	char *text = NULL, *copy;
	size_t len = 0, i;
	FILE *out = open_memstream(&text, &len);

	memset(&o, 0, sizeof(o));
	o.no_key = 1;
	o.host = "test.example";
	v = audit_verifier_new(&o, " seq ", out);
	for (i = 0; i < n && !audit_verifier_done(v); i++)
		if ((int)i != skip)
			audit_verifier_line(v, lines[i], strlen(lines[i]) - 1, 1, "host h trail t",
					    (unsigned long)i + 1);
	*rc = audit_verifier_finish(v);
	fclose(out);
	copy = pn_strdup(text);
	free(text);
	return copy;
}

/* verifier_takes_lines_from_elsewhere - the database's rows get the files' checks */
static void verifier_takes_lines_from_elsewhere(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "lines"), **lines, *out;
	size_t n;
	int rc;

	append_n(path, 1, 6, NULL);
	lines = read_lines(path, &n);
	assert_int_equal(n, 7);
	out = feed(lines, n, -1, &rc);
	if (rc != 0 || strncmp(out, "chain intact: 7 records, seq 1..7", 33) != 0)
		fail_msg("intact lines: %s", out);
	pn_free(out);
	out = feed(lines, n, 3, &rc);	/* seq 4 deleted */
	if (rc != 1 || strstr(out, "host h trail t seq 5: seq 5 follows seq 3 (host h trail t "
			      "seq 3): record seq 4 was deleted") == NULL)
		fail_msg("a deleted line: %s", out);
	pn_free(out);
	out = feed(lines, n, 6, &rc);	/* the last one: a chain cannot tell */
	assert_int_equal(rc, 0);
	pn_free(out);
	strstr(lines[3], "record ")[1] = 'E';	/* seq 4 edited: "rEcord" */
	out = feed(lines, n, -1, &rc);
	if (rc != 1 || strstr(out, "host h trail t seq 4: seq 4 was edited") == NULL)
		fail_msg("an edited line: %s", out);
	pn_free(out);
	free_lines(lines, n);
	pn_free(path);
}

typedef struct writer_arg {
	audit_trail *t;
	int id;
} writer_arg;

#define THREADS 8
#define PER_THREAD 150

/* writer - one connection thread appending records */
static void *writer(void *p)
{
	writer_arg *w = p;
	pn_buf line;
	int i;

	pn_buf_init(&line, 0);
	for (i = 0; i < PER_THREAD; i++) {
		char *b = pn_asprintf("{\"ts\":\"2024-05-01T12:00:00.000Z\",\"thread\":%d,\"i\":%d,"
				      "\"pad\":\"%0*d\"}", w->id, i, 200 + w->id * 50, 0);
		char *err = NULL;
		if (audit_trail_append(w->t, b, strlen(b), &line, &err) < 0) {
			pn_free(err);
			pn_free(b);
			break;
		}
		pn_free(b);
	}
	pn_buf_free(&line);
	return NULL;
}

/* concurrent_appends_form_one_chain - threads never interleave or fork the chain */
static void concurrent_appends_form_one_chain(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "concurrent");
	audit_trail *t = open_trail(path, AUDIT_SYNC_ALWAYS, KEY);
	pthread_t tid[THREADS];
	writer_arg args[THREADS];
	char **lines, *out;
	size_t n, i;
	int rc;

	for (i = 0; i < THREADS; i++) {
		args[i].t = t;
		args[i].id = (int)i;
		pthread_create(&tid[i], NULL, writer, &args[i]);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	audit_trail_put(t);
	lines = read_lines(path, &n);
	if (n != THREADS * PER_THREAD + 1)	/* and the trail-start record */
		fail_msg("lines got %zu, want %d", n, THREADS * PER_THREAD + 1);
	for (i = 0; i < n; i++) {
		audit_link l;
		char *err = NULL;
		if (audit_chain_parse(lines[i], strlen(lines[i]) - 1, &l, &err) < 0)
			fail_msg("line %zu: %s", i + 1, err);
		if (l.seq != i + 1)
			fail_msg("line %zu: seq got %llu, want %zu", i + 1, l.seq, i + 1);
	}
	free_lines(lines, n);
	out = verify_text(&path, 1, KEY, NULL, &rc);
	if (rc != 0)
		fail_msg("verify: %s", out);
	pn_free(out);
	pn_free(path);
}

typedef struct tamper {
	const char *what;
	int order[16];		/* line indexes to write back; -1 ends */
	int edit;		/* index of a line whose subject is edited, or -1 */
	int cut;		/* cut the last line in half */
	int bad_line;		/* line number verify must name (1-based) */
	const char *says;	/* words it must use */
} tamper;

/* Line 0 is the trail-start record (seq 1); lines 1..10 are seq 2..11. */
static const tamper tampers[] = {
	{"edit", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1}, 4, 0, 5, "edited"},
	{"delete", {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, -1}, -1, 0, 5, "deleted"},
	{"delete two", {0, 1, 2, 5, 6, 7, 8, 9, 10, -1}, -1, 0, 4, "seq 4..5 were deleted"},
	{"insert", {0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, -1}, -1, 0, 6, "inserted"},
	{"reorder", {0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, -1}, -1, 0, 6, "out of order"},
	{"truncate", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1}, -1, 1, 11, "cut short"},
	{"edit first", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1}, 1, 0, 2, "edited"},
	{"delete oldest", {2, 3, 4, 5, 6, 7, 8, 9, 10, -1}, -1, 0, 1, "oldest records were deleted"},
	{"delete trail-start", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1}, -1, 0, 1,
	 "oldest records were deleted"},
};

/* tampering_is_found_at_its_line - with and without a MAC key */
static void tampering_is_found_at_its_line(void **state)
{
	fixture *fx = *state;
	size_t i;
	int keyed;

	for (keyed = 0; keyed < 2; keyed++) {
		const unsigned char *key = keyed ? KEY : NULL;
		char *orig = fresh_path(fx, "orig");
		char **lines, *out;
		size_t n;
		int rc;

		append_n(orig, 1, 10, key);
		out = verify_text(&orig, 1, key, NULL, &rc);
		if (rc != 0)
			fail_msg("untouched trail: %s", out);
		pn_free(out);
		lines = read_lines(orig, &n);
		assert_int_equal(n, 11);
		for (i = 0; i < sizeof(tampers) / sizeof(tampers[0]); i++) {
			const tamper *t = &tampers[i];
			char *path = fresh_path(fx, "tampered"), *want, *saved = NULL;
			if (t->edit >= 0) {
				char *p = strstr(lines[t->edit], "record ");
				saved = pn_strdup(lines[t->edit]);
				p[1] = 'E';	/* "rEcord" */
			}
			write_lines(path, lines, t->order);
			if (saved) {
				pn_free(lines[t->edit]);
				lines[t->edit] = saved;
			}
			if (t->cut) {
				struct stat st;
				assert_int_equal(stat(path, &st), 0);
				assert_int_equal(truncate(path, st.st_size - 40), 0);
			}
			out = verify_text(&path, 1, key, NULL, &rc);
			want = pn_asprintf("%s:%d:", path, t->bad_line);
			if (rc != 1 || strstr(out, want) == NULL || strstr(out, t->says) == NULL)
				fail_msg("%s%s: got rc %d \"%s\", want rc 1 naming %s and \"%s\"",
					 t->what, keyed ? " (keyed)" : "", rc, out, want, t->says);
			pn_free(want);
			pn_free(out);
			pn_free(path);
		}
		free_lines(lines, n);
		pn_free(orig);
	}
}

/* checkpoint_catches_records_removed_from_the_end - what a chain alone cannot */
static void checkpoint_catches_records_removed_from_the_end(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "checkpoint"), *where = NULL, *err = NULL, *out;
	char **lines;
	audit_head head;
	size_t n;
	int rc, order[] = {0, 1, 2, 3, 4, 5, 6, -1};

	append_n(path, 1, 8, NULL);
	assert_int_equal(audit_trail_head(path, &head, &where, &err), 0);
	assert_int_equal(head.seq, 9);
	assert_string_equal(where, path);
	pn_free(where);
	out = verify_text(&path, 1, NULL, &head, &rc);
	if (rc != 0 || strstr(out, head.hash) == NULL)
		fail_msg("intact trail with its checkpoint: rc %d \"%s\"", rc, out);
	pn_free(out);

	lines = read_lines(path, &n);
	write_lines(path, lines, order);	/* seq 8 and 9 removed */
	free_lines(lines, n);
	out = verify_text(&path, 1, NULL, NULL, &rc);
	if (rc != 0)
		fail_msg("a shortened chain is still a chain: rc %d \"%s\"", rc, out);
	pn_free(out);
	out = verify_text(&path, 1, NULL, &head, &rc);
	if (rc != 1 || strstr(out, "removed") == NULL)
		fail_msg("with the checkpoint: got rc %d \"%s\", want rc 1 and \"removed\"", rc, out);
	pn_free(out);
	pn_free(path);
}

/* chain_continues_in_rotated_and_compressed_files - restart after logrotate */
static void chain_continues_in_rotated_and_compressed_files(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "rotate");
	char *one = pn_asprintf("%s.1", path), *two = pn_asprintf("%s.2.gz", path);
	char *gz_src = pn_asprintf("%s.2", path);
	char *files[3], *out, *newest;
	char *gz[] = {"gzip", "-n", gz_src, NULL};
	int rc;

	append_n(path, 1, 3, KEY);
	assert_int_equal(rename(path, gz_src), 0);
	assert_int_equal(run(gz), 0);		/* path.2.gz: seq 1..4 */
	append_n(path, 4, 2, KEY);		/* a new process: the chain goes on from .2.gz */
	assert_int_equal(rename(path, one), 0);	/* path.1: seq 5..6 */
	newest = audit_trail_newest_rotated(path);
	if (newest == NULL || strcmp(newest, one) != 0)
		fail_msg("newest rotated got %s, want %s", newest ? newest : "(none)", one);
	pn_free(newest);
	append_n(path, 6, 2, KEY);		/* path: seq 7..8 */
	files[0] = two;
	files[1] = one;
	files[2] = path;
	out = verify_text(files, 3, KEY, NULL, &rc);
	if (rc != 0 || strstr(out, "8 records, seq 1..8") == NULL)
		fail_msg("rotated chain: rc %d \"%s\"", rc, out);
	pn_free(out);
	out = verify_text(files + 1, 2, KEY, NULL, &rc);
	if (rc != 1 || strstr(out, "oldest records were deleted") == NULL)
		fail_msg("chain without its oldest file: rc %d \"%s\"", rc, out);
	pn_free(out);
	files[0] = one;
	files[1] = two;
	out = verify_text(files, 3, KEY, NULL, &rc);
	if (rc != 1)
		fail_msg("files in the wrong order: rc %d \"%s\"", rc, out);
	pn_free(out);
	pn_free(one);
	pn_free(two);
	pn_free(gz_src);
	pn_free(path);
}

/* moved_file_is_reopened_and_the_chain_goes_on - rotation without restart */
static void moved_file_is_reopened_and_the_chain_goes_on(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "moved"), *old = pn_asprintf("%s.1", path);
	audit_trail *t = open_trail(path, AUDIT_SYNC_INTERVAL, NULL);
	audit_trail *again;
	char *files[2] = {old, path}, *out, *err = NULL;
	pn_buf line;
	int i, rc;

	pn_buf_init(&line, 0);
	for (i = 0; i < 6; i++) {
		char *b = body(i);
		if (i == 2)
			assert_int_equal(rename(path, old), 0);	/* logrotate without SIGHUP */
		if (i == 4) {
			/* SIGHUP: the new snapshot gets the same trail; old file moved again */
			again = open_trail(path, AUDIT_SYNC_INTERVAL, NULL);
			audit_trail_put(t);
			t = again;
		}
		if (audit_trail_append(t, b, strlen(b), &line, &err) < 0)
			fail_msg("append %d: %s", i, err);
		pn_free(b);
	}
	pn_buf_free(&line);
	audit_trail_put(t);
	out = verify_text(files, 2, NULL, NULL, &rc);
	if (rc != 0 || strstr(out, "7 records, seq 1..7") == NULL)
		fail_msg("after the move: rc %d \"%s\"", rc, out);
	pn_free(out);
	pn_free(old);
	pn_free(path);
}

/* record_cut_by_a_crash_is_kept_and_reported - chain resumes after it */
static void record_cut_by_a_crash_is_kept_and_reported(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "crash"), *out, *want;
	FILE *f;
	int rc;

	append_n(path, 1, 3, NULL);
	f = fopen(path, "ab");
	fputs("{\"schema\":1,\"seq\":5,\"ts\":\"half a rec", f);
	fclose(f);
	append_n(path, 4, 2, NULL);	/* restart: seq 5 and 6 follow seq 4 */
	out = verify_text(&path, 1, NULL, NULL, &rc);
	want = pn_asprintf("%s:5: not an audit record", path);
	if (rc != 1 || strstr(out, want) == NULL)
		fail_msg("got rc %d \"%s\", want rc 1 and \"%s\"", rc, out, want);
	pn_free(want);
	pn_free(out);
	{
		char **lines;
		size_t n;
		audit_link l;
		char *err = NULL;
		lines = read_lines(path, &n);
		assert_int_equal(n, 7);
		assert_int_equal(audit_chain_parse(lines[5], strlen(lines[5]) - 1, &l, &err), 0);
		assert_int_equal(l.seq, 5);
		free_lines(lines, n);
	}
	pn_free(path);
}

/* garbage_file_is_refused - never chain onto something that is not a trail */
static void garbage_file_is_refused(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "garbage"), *err = NULL;
	audit_trail *t;
	pn_buf line;
	FILE *f = fopen(path, "wb");

	fputs("this is\nnot an audit trail\n", f);
	fclose(f);
	t = audit_trail_get(path, 0600, AUDIT_SYNC_NEVER, 1);
	pn_buf_init(&line, 0);
	if (audit_trail_append(t, "{\"a\":1}", 7, &line, &err) == 0)
		fail_msg("appended to a file that is not a trail");
	if (strstr(err, "not an audit trail") == NULL)
		fail_msg("error got \"%s\", want it to say \"not an audit trail\"", err);
	pn_free(err);
	pn_buf_free(&line);
	audit_trail_put(t);
	pn_free(path);
}

/* failed_write_leaves_no_partial_record - file size limit hit mid-record */
static void failed_write_leaves_no_partial_record(void **state)
{
	fixture *fx = *state;
	char *path = fresh_path(fx, "full"), *err = NULL, *out, *b = body(99);
	audit_trail *t;
	struct rlimit old, lim;
	struct stat before, after;
	pn_buf line;
	int rc;

	append_n(path, 1, 2, NULL);
	assert_int_equal(stat(path, &before), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)before.st_size + 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	t = audit_trail_get(path, 0600, AUDIT_SYNC_NEVER, 1);
	pn_buf_init(&line, 0);
	rc = audit_trail_append(t, b, strlen(b), &line, &err);
	setrlimit(RLIMIT_FSIZE, &old);
	if (rc == 0)
		fail_msg("append past the file size limit succeeded");
	pn_free(err);
	assert_int_equal(stat(path, &after), 0);
	if (after.st_size != before.st_size)
		fail_msg("size after a failed append got %lld, want %lld",
			 (long long)after.st_size, (long long)before.st_size);
	assert_int_equal(audit_trail_append(t, b, strlen(b), &line, &err), 0);
	pn_buf_free(&line);
	audit_trail_put(t);
	out = verify_text(&path, 1, NULL, NULL, &rc);
	if (rc != 0 || strstr(out, "4 records") == NULL)
		fail_msg("after the failed append: rc %d \"%s\"", rc, out);
	pn_free(out);
	pn_free(b);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_parse_and_mac),
		cmocka_unit_test(concurrent_appends_form_one_chain),
		cmocka_unit_test(tampering_is_found_at_its_line),
		cmocka_unit_test(verifier_takes_lines_from_elsewhere),
		cmocka_unit_test(checkpoint_catches_records_removed_from_the_end),
		cmocka_unit_test(chain_continues_in_rotated_and_compressed_files),
		cmocka_unit_test(moved_file_is_reopened_and_the_chain_goes_on),
		cmocka_unit_test(record_cut_by_a_crash_is_kept_and_reported),
		cmocka_unit_test(garbage_file_is_refused),
		cmocka_unit_test(failed_write_leaves_no_partial_record),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
