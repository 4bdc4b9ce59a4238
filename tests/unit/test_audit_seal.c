/* SPDX-License-Identifier: BSD-2-Clause */
/* test_audit_seal - the attacks on postern-audit's trail that a hash chain
 * alone does not catch, each tried through the real trail code and verify:
 *
 *   - records cut from the file while the daemon runs, and after a
 *     restart (issue 12 finding 5): a gap record, never reused seq numbers;
 *   - two trails spliced together, a trail replaced by another host's;
 *   - forward-secure sealing: the key evolves per epoch and replaces the
 *     key file; records older than the current epoch forged with the
 *     current key are caught; verify derives forward from the initial key;
 *   - unsigned to signed and key rotation through key-change records;
 *   - key files readable by others or owned by someone else are refused;
 *     verify fails when a key was given and no mac was checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/log.h"
#include "milters/audit/chain.h"
#include "milters/audit/headfile.h"
#include "milters/audit/seal.h"
#include "milters/audit/trail.h"
#include "milters/audit/verify.h"

static const char KEY1[] = "first-initial-key-0123456789abcdef";
static const char KEY2[] = "second-initial-key-0123456789abcdef";

typedef struct fixture {
	char *dir;
	int n;
} fixture;

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	fixture *fx = pn_calloc(1, sizeof(*fx));

	fx->dir = pn_asprintf("%s/test_audit_seal.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	pn_log_set_level(PN_LOG_PANIC);	/* tampering is logged at critical level: expected */
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	char *cmd = pn_asprintf("rm -rf '%s'", fx->dir);

	if (system(cmd) != 0)
		return -1;
	pn_free(cmd);
	pn_free(fx->dir);
	pn_free(fx);
	return 0;
}

/* fresh - a new trail path in the fixture directory */
static char *fresh(fixture *fx, const char *what)
{
	return pn_asprintf("%s/%s-%d.jsonl", fx->dir, what, ++fx->n);
}

/* write_file - text to path with mode */
static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* key_path - an initial key file for a trail; the daemon will evolve it */
static char *key_path(const char *trail, const char *key)
{
	char *p = pn_asprintf("%s.key", trail);

	write_file(p, key, 0600);
	return p;
}

typedef struct writer {
	audit_trail *t;
	int next;	/* body number */
} writer;

/* start - a daemon process's trail (opening again = a restart) */
static void start(writer *d, const char *path, const char *host, const char *key_file,
		  unsigned long epoch_records)
{
	audit_trail_opts o;

	audit_trail_opts_init(&o);
	o.mode = 0600;
	o.sync = AUDIT_SYNC_ALWAYS;
	o.host = host;
	o.key_file = key_file;
	o.epoch_records = epoch_records;
	o.epoch_seconds = 0;
	d->t = audit_trail_open(path, &o);
}

/* reload - SIGHUP with a new configuration */
static void reload(writer *d, const char *path, const char *host, const char *key_file,
		   unsigned long epoch_records)
{
	audit_trail *old = d->t;

	start(d, path, host, key_file, epoch_records);
	audit_trail_put(old);
}

/* body - a message record body */
static char *body(int i)
{
	return pn_asprintf("{\"ts\":\"2024-05-01T12:00:%02d.000Z\",\"host\":\"mx\",\"event\":"
			   "\"message\",\"headers\":{\"subject\":\"record %d\"}}", i % 60, i);
}

/* send - n messages' records */
static void send(writer *d, int n)
{
	pn_buf line;
	int i;

	pn_buf_init(&line, 0);
	for (i = 0; i < n; i++) {
		char *b = body(d->next++), *err = NULL;
		if (audit_trail_append(d->t, b, strlen(b), &line, &err) < 0)
			fail_msg("append: %s", err);
		pn_free(b);
	}
	pn_buf_free(&line);
}

/* stop - the daemon exits */
static void stop(writer *d)
{
	audit_trail_put(d->t);
	d->t = NULL;
}

/* lines - a file's lines, without newlines */
static char **lines_of(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char **v = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t len;

	*n = 0;
	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		v = pn_realloc(v, (*n + 2) * sizeof(char *));
		v[(*n)++] = pn_strdup(line);
		v[*n] = NULL;
	}
	free(line);
	fclose(f);
	return v;
}

/* free_lines - the result of lines_of */
static void free_lines(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* write_lines - lines (newline added) to path, in place so the inode stays */
static void write_lines(const char *path, char **v, size_t from, size_t to)
{
	FILE *f = fopen(path, "r+b");
	size_t i;

	assert_non_null(f);
	for (i = from; i < to; i++)
		fprintf(f, "%s\n", v[i]);
	fflush(f);
	assert_int_equal(ftruncate(fileno(f), ftell(f)), 0);
	fclose(f);
}

/* verify_with - verify's verdict: rc and output */
static int verify_with(char **files, size_t n, const char **keys, size_t nkeys,
		       const char *head_file, char **text)
{
	audit_seal k[4];
	audit_verify_opts o;
	audit_headfile hf;
	audit_head head;
	size_t len, i;
	FILE *out;
	char *buf = NULL, *err = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < nkeys; i++)
		assert_int_equal(audit_seal_from_bytes((const unsigned char *)keys[i],
						       strlen(keys[i]), &k[i]), 0);
	o.keys = k;
	o.nkeys = nkeys;
	o.no_key = nkeys == 0;
	if (head_file) {
		assert_int_equal(audit_headfile_read(head_file, &hf, &err), 1);
		o.trail_id = hf.trail_id;
		o.host = hf.host;
		head.seq = hf.seq;
		memcpy(head.hash, hf.hash, sizeof(head.hash));
		o.checkpoint = &head;
	}
	out = open_memstream(&buf, &len);
	rc = audit_verify_ex(files, n, &o, out);
	fclose(out);
	*text = pn_strdup(buf);
	free(buf);
	for (i = 0; i < nkeys; i++)
		audit_seal_wipe(&k[i]);
	return rc;
}

/* expect - verify exits 1 naming what, or 0 */
static void expect(const char *what, char *path, const char **keys, size_t nkeys,
		   const char *head_file, int want_rc, const char *says)
{
	char *text;
	int rc = verify_with(&path, 1, keys, nkeys, head_file, &text);

	if (rc != want_rc || (says && strstr(text, says) == NULL))
		fail_msg("%s: verify rc %d \"%s\", want rc %d saying \"%s\"", what, rc, text, want_rc,
			 says ? says : "");
	pn_free(text);
}

/* finding5_cut_while_running_is_a_gap - the reproduction */
static void finding5_cut_while_running_is_a_gap(void **state)
{
	fixture *fx = *state;
	char *path = fresh(fx, "cut"), *kf = key_path(path, KEY1), **v;
	const char *keys[] = {KEY1};
	writer d = {NULL, 1};
	size_t n, i;

	start(&d, path, "mx.example", kf, 1000);
	send(&d, 5);				/* trail-start + 5 records: seq 1..6 */
	v = lines_of(path, &n);
	assert_int_equal(n, 6);
	write_lines(path, v, 0, 4);		/* cut the last two message records */
	free_lines(v);
	send(&d, 2);
	stop(&d);
	v = lines_of(path, &n);
	/* seq numbers are never reused: gap 7 after the last known 6, then 8, 9 */
	for (i = 0; i < n; i++) {
		audit_link l;
		char *err = NULL;
		assert_int_equal(audit_chain_parse(v[i], strlen(v[i]), &l, &err), 0);
		if (i == 4 && (l.seq != 7 || strcmp(l.event, "gap") != 0))
			fail_msg("line 5: seq %llu event %s, want the gap record seq 7", l.seq, l.event);
	}
	assert_int_equal(n, 7);
	free_lines(v);
	expect("cut while running", path, keys, 1, NULL, 1, "gap record");
	pn_free(kf);
	pn_free(path);
}

/* cut_while_stopped_is_a_gap_at_restart - the head file remembers */
static void cut_while_stopped_is_a_gap_at_restart(void **state)
{
	fixture *fx = *state;
	char *path = fresh(fx, "restart"), *kf = key_path(path, KEY1), **v;
	const char *keys[] = {KEY1};
	writer d = {NULL, 1};
	size_t n;

	start(&d, path, "mx.example", kf, 1000);
	send(&d, 5);
	stop(&d);
	v = lines_of(path, &n);
	write_lines(path, v, 0, 4);
	free_lines(v);
	start(&d, path, "mx.example", kf, 1000);
	send(&d, 2);
	stop(&d);
	expect("cut while stopped", path, keys, 1, NULL, 1, "shorter than");

	/* Truncation alone (no new records): the head file names the lost tail. */
	path = (pn_free(path), fresh(fx, "tail"));
	pn_free(kf);
	kf = key_path(path, KEY1);
	start(&d, path, "mx.example", kf, 1000);
	send(&d, 5);
	stop(&d);
	v = lines_of(path, &n);
	write_lines(path, v, 0, 4);
	free_lines(v);
	{
		char *hf = audit_trail_head_path(path, NULL);
		expect("tail cut", path, keys, 1, hf, 1, "the tail was cut");
		pn_free(hf);
	}
	pn_free(kf);
	pn_free(path);
}

/* splice_and_other_hosts_trail_are_refused - identity is bound */
static void splice_and_other_hosts_trail_are_refused(void **state)
{
	fixture *fx = *state;
	char *a = fresh(fx, "a"), *b = fresh(fx, "b"), *mix = fresh(fx, "mix");
	char *ka = key_path(a, KEY1), *kb = key_path(b, KEY1), **va, **vb, *ha, *text;
	const char *keys[] = {KEY1};
	writer d = {NULL, 1};
	size_t na, nb;
	FILE *f;

	start(&d, a, "mx.example", ka, 1000);
	send(&d, 5);
	stop(&d);
	d.next = 1;
	start(&d, b, "other.example", kb, 1000);	/* same key, another host */
	send(&d, 5);
	stop(&d);
	va = lines_of(a, &na);
	vb = lines_of(b, &nb);
	/* a's first half, then b's second half */
	f = fopen(mix, "wb");
	fprintf(f, "%s\n%s\n%s\n%s\n%s\n%s\n", va[0], va[1], va[2], vb[3], vb[4], vb[5]);
	fclose(f);
	expect("splice halves", mix, keys, 1, NULL, 1, "spliced");
	/* a whole, then b whole appended */
	f = fopen(mix, "wb");
	for (size_t i = 0; i < na; i++)
		fprintf(f, "%s\n", va[i]);
	for (size_t i = 0; i < nb; i++)
		fprintf(f, "%s\n", vb[i]);
	fclose(f);
	expect("two trails back to back", mix, keys, 1, NULL, 1, "another trail");
	/* a's file replaced by b's: a's head file names another trail */
	ha = audit_trail_head_path(a, NULL);
	expect("a alone", a, keys, 1, ha, 0, "intact");
	expect("b in place of a", b, keys, 1, ha, 1, "the trail was replaced");
	/* without the head file, the host still tells */
	{
		audit_verify_opts o;
		audit_seal k;
		size_t len;
		char *buf = NULL;
		FILE *out = open_memstream(&buf, &len);
		int rc;

		memset(&o, 0, sizeof(o));
		audit_seal_from_bytes((const unsigned char *)KEY1, strlen(KEY1), &k);
		o.keys = &k;
		o.nkeys = 1;
		o.host = "mx.example";
		rc = audit_verify_ex(&b, 1, &o, out);
		fclose(out);
		text = buf;
		if (rc != 1 || strstr(text, "another host's trail") == NULL)
			fail_msg("other host: rc %d \"%s\"", rc, text);
		free(buf);
		audit_seal_wipe(&k);
	}
	/* the daemon itself never adopts the replacement */
	{
		char *copy = pn_asprintf("cp '%s' '%s'", b, a);
		assert_int_equal(system(copy), 0);
		pn_free(copy);
		start(&d, a, "mx.example", ka, 1000);
		send(&d, 1);
		stop(&d);
		expect("daemon on a replaced trail", a, keys, 1, NULL, 1, "another trail");
	}
	free_lines(va);
	free_lines(vb);
	pn_free(ha);
	pn_free(ka);
	pn_free(kb);
	pn_free(a);
	pn_free(b);
	pn_free(mix);
}

/* forge - rewrite records from index from on with the stolen current key */
static void forge(const char *path, char **v, size_t n, size_t from, const audit_seal *stolen,
		  int claim_current_epoch)
{
	audit_head h;
	pn_buf line;
	size_t i;

	pn_buf_init(&line, 0);
	{
		audit_link l;
		char *err = NULL;
		assert_int_equal(audit_chain_parse(v[from - 1], strlen(v[from - 1]), &l, &err), 0);
		h.seq = l.seq;
		memcpy(h.hash, l.hash, sizeof(h.hash));
	}
	for (i = from; i < n; i++) {
		audit_link l;
		char *err = NULL, *b = pn_asprintf("{\"ts\":\"2024-05-01T12:00:00.000Z\",\"host\":\"mx\","
						   "\"event\":\"message\",\"forged\":%zu}", i);
		assert_int_equal(audit_chain_parse(v[i], strlen(v[i]), &l, &err), 0);
		assert_int_equal(audit_chain_seal_epoch(&line, b, strlen(b), &h, stolen->key,
							stolen->keylen, claim_current_epoch
							? (long long)stolen->epoch : (long long)l.epoch), 0);
		audit_chain_advance(&h, h.seq + 1, pn_buf_str(&line), pn_buf_len(&line));
		pn_free(v[i]);
		v[i] = pn_strdup(pn_buf_str(&line));
		pn_free(b);
	}
	pn_buf_free(&line);
	write_lines(path, v, 0, n);
}

/* forward_secure_sealing_current_key_cannot_forge_the_past - FSS */
static void forward_secure_sealing_current_key_cannot_forge_the_past(void **state)
{
	fixture *fx = *state;
	char *path = fresh(fx, "fss"), *kf = key_path(path, KEY1), *err = NULL, **v, *saved;
	const char *keys[] = {KEY1};
	writer d = {NULL, 1};
	audit_seal stolen, initial;
	size_t n, claim;

	start(&d, path, "mx.example", kf, 3);	/* an epoch every 3 records */
	send(&d, 10);				/* 11 records: epochs 0..3 */
	stop(&d);
	/* The key file no longer holds the initial key: what a thief finds. */
	assert_int_equal(audit_seal_load(kf, AUDIT_SEAL_ANY_OWNER, &stolen, &err), 0);
	assert_int_equal(stolen.epoch, 3);
	assert_int_equal(audit_seal_from_bytes((const unsigned char *)KEY1, strlen(KEY1), &initial),
			 0);
	assert_string_equal(stolen.key_id, initial.key_id);
	assert_memory_not_equal(stolen.key, initial.key, 32);
	expect("untouched", path, keys, 1, NULL, 0, "11 macs checked");
	/* verify with only the current key cannot vouch for the past */
	{
		audit_verify_opts o;
		size_t len;
		char *buf = NULL;
		FILE *out = open_memstream(&buf, &len);
		int rc;
		memset(&o, 0, sizeof(o));
		o.keys = &stolen;
		o.nkeys = 1;
		rc = audit_verify_ex(&path, 1, &o, out);
		fclose(out);
		if (rc != 1 || strstr(buf, "give the initial key") == NULL)
			fail_msg("current key only: rc %d \"%s\"", rc, buf);
		free(buf);
	}
	v = lines_of(path, &n);
	assert_int_equal(n, 11);
	saved = pn_strdup(v[4]);
	for (claim = 0; claim < 2; claim++) {
		char **w = lines_of(path, &n);
		/* records from seq 5 (epoch 1) on rewritten with the epoch-3 key */
		forge(path, w, n, 4, &stolen, (int)claim);
		expect(claim ? "forged, claiming the current epoch" : "forged, claiming their epoch",
		       path, keys, 1, NULL, 1, claim ? "epochs advance one at a time"
						     : "mac does not match under key");
		free_lines(w);
		write_lines(path, v, 0, n);	/* put the original back */
	}
	expect("restored", path, keys, 1, NULL, 0, "intact");
	/* a restart goes on from the evolved key, never back to the initial one */
	start(&d, path, "mx.example", kf, 3);
	send(&d, 1);
	stop(&d);
	expect("after restart", path, keys, 1, NULL, 0, "12 macs checked");
	pn_free(saved);
	free_lines(v);
	audit_seal_wipe(&stolen);
	audit_seal_wipe(&initial);
	pn_free(kf);
	pn_free(path);
}

/* unsigned_to_signed_and_rotation_through_key_change_records */
static void unsigned_to_signed_and_rotation_through_key_change_records(void **state)
{
	fixture *fx = *state;
	char *path = fresh(fx, "rotation"), *k1 = pn_asprintf("%s.k1", path);
	char *k2 = pn_asprintf("%s.k2", path);
	const char *one[] = {KEY1}, *both[] = {KEY2, KEY1}, *second[] = {KEY2};
	writer d = {NULL, 1};

	write_file(k1, KEY1, 0600);
	write_file(k2, KEY2, 0600);
	start(&d, path, "mx.example", NULL, 1000);
	send(&d, 3);				/* unsigned: seq 1..4 */
	expect("unsigned, key given", path, one, 1, NULL, 1, "no mac checked although a key");
	expect("unsigned, no key", path, NULL, 0, NULL, 0, "NO mac checked");
	reload(&d, path, "mx.example", k1, 1000);	/* the administrator adds a key */
	send(&d, 2);				/* key-change seq 5, sealed 6..7 */
	expect("signed from the key change", path, one, 1, NULL, 0, "3 macs checked");
	reload(&d, path, "mx.example", k2, 1000);	/* rotation */
	send(&d, 2);
	stop(&d);
	expect("rotated, both keys", path, both, 2, NULL, 0, "6 macs checked");
	expect("rotated, old key only", path, one, 1, NULL, 1, "not checked");
	expect("rotated, new key only", path, second, 1, NULL, 1, "not checked");
	pn_free(k1);
	pn_free(k2);
	pn_free(path);
}

/* key_files_with_loose_mode_or_foreign_owner_are_refused - finding 9 */
static void key_files_with_loose_mode_or_foreign_owner_are_refused(void **state)
{
	fixture *fx = *state;
	char *path = fresh(fx, "keys"), *err = NULL;
	audit_seal s;
	static const mode_t bad[] = {0666, 0644, 0640, 0604, 0660};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, KEY1, bad[i]);
		if (audit_seal_load(path, AUDIT_SEAL_ANY_OWNER, &s, &err) == 0)
			fail_msg("mode %04o accepted", (unsigned)bad[i]);
		if (strstr(err, "must be 0600") == NULL)
			fail_msg("mode %04o: \"%s\" does not say which mode", (unsigned)bad[i], err);
		pn_free(err);
		err = NULL;
	}
	write_file(path, KEY1, 0600);
	assert_int_equal(audit_seal_load(path, (long)geteuid(), &s, &err), 0);
	audit_seal_wipe(&s);
	if (audit_seal_load(path, (long)geteuid() + 1, &s, &err) == 0)
		fail_msg("a key owned by another user accepted");
	assert_non_null(strstr(err, "owned by"));
	pn_free(err);
	err = NULL;
	{
		char *link = pn_asprintf("%s.link", path);
		assert_int_equal(symlink(path, link), 0);
		if (audit_seal_load(link, AUDIT_SEAL_ANY_OWNER, &s, &err) == 0)
			fail_msg("a symbolic link to a key accepted");
		pn_free(err);
		pn_free(link);
	}
	pn_free(path);
}

/* evolution_is_one_way_and_reproducible - the verifier derives what the daemon did */
static void evolution_is_one_way_and_reproducible(void **state)
{
	audit_seal a, b;
	unsigned char want[32], msg[21];

	(void)state;
	assert_int_equal(audit_seal_from_bytes((const unsigned char *)KEY1, strlen(KEY1), &a), 0);
	memcpy(msg, "postern-epoch", 13);
	memset(msg + 13, 0, 8);
	msg[20] = 1;
	assert_int_equal(pn_hmac_sha256(KEY1, strlen(KEY1), msg, sizeof(msg), want), 0);
	assert_int_equal(audit_seal_evolve(&a), 0);
	assert_int_equal(a.epoch, 1);
	assert_memory_equal(a.key, want, 32);
	assert_int_equal(audit_seal_from_bytes((const unsigned char *)KEY1, strlen(KEY1), &b), 0);
	assert_int_equal(audit_seal_advance_to(&b, 5), 0);
	assert_int_equal(audit_seal_advance_to(&a, 5), 0);
	assert_memory_equal(a.key, b.key, 32);
	assert_int_equal(audit_seal_advance_to(&a, 4), -1);	/* never backwards */
	audit_seal_wipe(&a);
	audit_seal_wipe(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finding5_cut_while_running_is_a_gap),
		cmocka_unit_test(cut_while_stopped_is_a_gap_at_restart),
		cmocka_unit_test(splice_and_other_hosts_trail_are_refused),
		cmocka_unit_test(forward_secure_sealing_current_key_cannot_forge_the_past),
		cmocka_unit_test(unsigned_to_signed_and_rotation_through_key_change_records),
		cmocka_unit_test(key_files_with_loose_mode_or_foreign_owner_are_refused),
		cmocka_unit_test(evolution_is_one_way_and_reproducible),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
