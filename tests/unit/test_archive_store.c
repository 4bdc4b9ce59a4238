/* SPDX-License-Identifier: BSD-2-Clause */
/* test_archive_store - write, dedup, compression, CMS encryption, verify, reindex, prune, hold */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/spool.h"
#include "milters/archive/archive.h"
#include "milters/archive/export.h"
#include "milters/archive/maint.h"
#include "tests/unit/testlib.h"

static const char *base;	/* per-run temporary directory (t_tmpdir) */
static char *rsa_cert, *rsa_key, *ec_cert, *ec_key;

/* run - a shell command; its exit status */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int setup_all(void **state)
{
	(void)state;
	base = t_tmpdir("postern-test-archive");
	rsa_cert = pn_asprintf("%s/rsa.crt", base);
	rsa_key = pn_asprintf("%s/rsa.key", base);
	ec_cert = pn_asprintf("%s/ec.crt", base);
	ec_key = pn_asprintf("%s/ec.key", base);
	if (run("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 30 "
		"-subj /CN=archive-rsa >/dev/null 2>&1", rsa_key, rsa_cert) != 0)
		return -1;
	if (run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
		"-out %s -days 30 -subj /CN=archive-ec >/dev/null 2>&1", ec_key, ec_cert) != 0)
		return -1;
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	pn_free(rsa_cert);
	pn_free(rsa_key);
	pn_free(ec_cert);
	pn_free(ec_key);
	return 0;
}

/* settings - defaults for a test archive in a fresh directory */
static arc_settings settings(const char *name)
{
	arc_settings s;

	memset(&s, 0, sizeof(s));
	s.dir = pn_asprintf("%s/%s", base, name);
	s.user = "";
	s.compression_level = 3;
	s.certificates = "";
	s.fulltext = 2;
	s.fulltext_max = 65536;
	s.busy_ms = 2000;
	s.retention = "0";
	s.catch_up = 1;
	return s;
}

/* open_archive - open or fail the test */
static arc_archive *open_archive(const arc_settings *s)
{
	char *err = NULL;
	arc_archive *a = arc_archive_open(s, &err);

	if (a == NULL)
		fail_msg("arc_archive_open %s: %s", s->dir, err);
	return a;
}

static const char plain_msg[] =
	"From: Alice Example <alice@example.com>\r\n"
	"To: Bob <bob@example.org>,\r\n"
	"\tCarol <carol@example.org>\r\n"
	"Subject: =?UTF-8?B?R3LDvMOfZQ==?= quarterly report\r\n"
	"Message-ID: <report-1@example.com>\r\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"The figures for the zeppelin division look good.\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--b1--\r\n";

/* variant - plain_msg with another word for "zeppelin" (a different message) */
static char *variant(const char *word)
{
	const char *at = strstr(plain_msg, "zeppelin");

	return pn_asprintf("%.*s%s%s", (int)(at - plain_msg), plain_msg, word, at + 8);
}

/* envelope - a delivery with sender, recipients and a time */
static arc_delivery *envelope(const char *sender, const char *const *rcpts, long long when)
{
	arc_delivery *d = arc_delivery_new();

	pn_free(d->sender);
	d->sender = pn_strdup(sender);
	for (; *rcpts; rcpts++)
		arc_delivery_add_rcpt(d, *rcpts);
	pn_free(d->queue_id);
	d->queue_id = pn_strdup("4ABCDEF");
	d->time = when;
	return d;
}

/* put - archive a message held in memory; returns the result */
static arc_result put(arc_archive *a, const char *msg, size_t len, arc_delivery *d)
{
	arc_source src = {msg, len, NULL};
	arc_result res;
	char *err = NULL;

	if (arc_archive_message(a, d, &src, &res, &err) < 0)
		fail_msg("arc_archive_message: %s", err);
	return res;
}

typedef struct collect {
	pn_buf out;
	size_t n;
} collect;

/* collect_bytes - arc_write_fn into a buffer */
static int collect_bytes(void *ctx, const void *data, size_t len)
{
	return pn_buf_append(&((collect *)ctx)->out, data, len);
}

/* get - an object's message */
static char *get(arc_archive *a, const char *sha, const arc_key *key, size_t *len, int *rc)
{
	collect c;
	char *err = NULL;

	pn_buf_init(&c.out, 0);
	*rc = arc_store_read(a->store, sha, key, collect_bytes, &c, &err);
	pn_free(err);
	return pn_buf_steal(&c.out, len);
}

/* dump_row - arc_row_fn: one line per delivery, every field */
static int dump_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	collect *c = ctx;
	arc_json_extra extra[] = {
		{"held", 'b', NULL, row->held},
		{"hold_reason", 's', row->hold_reason, 0},
		{"encrypted", 'b', NULL, row->encrypted},
	};
	char *line = arc_delivery_json(d, extra, 3);

	pn_buf_printf(&c->out, "%s\n", line);
	pn_free(line);
	c->n++;
	return 0;
}

/* dump - the index as text: deliveries matching a query */
static char *dump(arc_archive *a, const arc_query *q, size_t *n)
{
	collect c;
	char *err = NULL;

	pn_buf_init(&c.out, 0);
	c.n = 0;
	if (arc_index_search(a->index, q, dump_row, &c, &err) < 0)
		fail_msg("search: %s", err);
	if (n)
		*n = c.n;
	return pn_buf_steal(&c.out, NULL);
}

/* count_query - deliveries matching one criterion */
static size_t count_query(arc_archive *a, const char *option, const char *value)
{
	arc_query q;
	char *err = NULL, *text;
	size_t n;

	arc_query_init(&q);
	if (option && arc_query_set(&q, option, value, &err) < 0)
		fail_msg("%s", err);
	text = dump(a, &q, &n);
	pn_free(text);
	arc_query_clear(&q);
	return n;
}

/* verify_quiet - verify with its report lines in a buffer */
static int verify_quiet(arc_archive *a, arc_verify_report *rep, char **lines)
{
	char *buf = NULL, *err = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int rc = arc_verify(a, out, rep, &err);

	fclose(out);
	if (rc < 0)
		fail_msg("verify: %s", err);
	*lines = buf;
	return rc;
}

static void stores_and_reads_back_byte_for_byte(void **state)
{
	arc_settings s = settings("plain");
	arc_archive *a = open_archive(&s);
	const char *rcpts[] = {"bob@example.org", "carol@example.org", "hidden@example.net", NULL};
	arc_delivery *d = envelope("alice@example.com", rcpts, 0);
	arc_result r = put(a, plain_msg, sizeof(plain_msg) - 1, d);
	char *got, *path;
	size_t len;
	int rc, enc;

	(void)state;
	assert_int_equal(r.dedup, 0);
	assert_int_equal(r.size, sizeof(plain_msg) - 1);
	assert_int_equal(arc_store_find(a->store, r.sha256, &path, &enc), 0);
	assert_int_equal(enc, 0);
	assert_non_null(strstr(path, "/objects/"));
	got = get(a, r.sha256, NULL, &len, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(len, sizeof(plain_msg) - 1);
	assert_memory_equal(got, plain_msg, len);
	pn_free(got);
	/* the index fields, decoded; Bcc recipient kept */
	if (strcmp(d->subject, "Grüße quarterly report") != 0)
		fail_msg("subject: got \"%s\", want \"Grüße quarterly report\"", d->subject);
	assert_string_equal(d->message_id, "<report-1@example.com>");
	assert_int_equal(d->nattachments, 1);
	assert_string_equal(d->attachments[0], "report.pdf");
	assert_int_equal(count_query(a, "to", "hidden@example.net"), 1);
	assert_int_equal(count_query(a, "subject", "grüße"), 1);
	assert_int_equal(count_query(a, "text", "zeppelin"), 1);
	assert_int_equal(count_query(a, "text", "submarine"), 0);
	assert_int_equal(count_query(a, "attachment", "REPORT"), 1);
	assert_int_equal(count_query(a, "message-id", "report-1@example.com"), 1);
	assert_int_equal(count_query(a, "from", "alice@"), 1);
	assert_int_equal(count_query(a, "larger", "100000"), 0);
	/* the stored form is a plain zstd frame anyone can read */
	assert_int_equal(run("zstd -q -d -c %s > %s/plain.out", path, base), 0);
	{
		char *p = pn_asprintf("%s/plain.out", base), *data = t_read_file(p, &len);
		assert_int_equal(len, sizeof(plain_msg) - 1);
		assert_memory_equal(data, plain_msg, len);
		pn_free(data);
		pn_free(p);
	}
	pn_free(path);
	arc_delivery_free(d);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void identical_messages_are_stored_once(void **state)
{
	arc_settings s = settings("dedup");
	arc_archive *a = open_archive(&s);
	const char *r1[] = {"bob@example.org", NULL}, *r2[] = {"dave@example.net", NULL};
	arc_delivery *d1 = envelope("alice@example.com", r1, 0);
	arc_delivery *d2 = envelope("alice@example.com", r2, 0);
	arc_result a1 = put(a, plain_msg, sizeof(plain_msg) - 1, d1);
	arc_result a2 = put(a, plain_msg, sizeof(plain_msg) - 1, d2);
	arc_stats st;

	(void)state;
	assert_string_equal(a1.sha256, a2.sha256);
	assert_string_not_equal(a1.id, a2.id);
	assert_int_equal(a1.dedup, 0);
	assert_int_equal(a2.dedup, 1);
	arc_index_stats(a->index, &st);
	if (st.deliveries != 2 || st.objects != 1)
		fail_msg("deliveries %lld objects %lld: want 2 and 1", st.deliveries, st.objects);
	assert_int_equal(count_query(a, "to", "dave@example.net"), 1);
	assert_int_equal(count_query(a, "to", "carol@example.org"), 2);	/* To: header */
	arc_delivery_free(d1);
	arc_delivery_free(d2);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void compresses_and_streams_large_spooled_bodies(void **state)
{
	static const struct {
		int level;
		size_t lines;
		size_t mem_limit;
	} cases[] = {
		{1, 100, 1 << 20},
		{3, 40000, 4096},	/* ~3 MB spooled to disk */
		{19, 2000, 0},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = pn_asprintf("compress%zu", i);
		arc_settings s = settings(name);
		arc_archive *a;
		const char *rcpts[] = {"bob@example.org", NULL};
		arc_delivery *d = envelope("alice@example.com", rcpts, 0);
		const char head[] = "From: a@example.com\r\nSubject: big\r\n\r\n";
		pn_spool *body = pn_spool_new(cases[i].mem_limit, base);
		pn_buf want;
		arc_source src = {head, sizeof(head) - 1, body};
		arc_result r;
		char *err = NULL, *got;
		size_t len;
		int rc;

		s.compression_level = cases[i].level;
		a = open_archive(&s);
		pn_buf_init(&want, 0);
		pn_buf_append(&want, head, sizeof(head) - 1);
		for (j = 0; j < cases[i].lines; j++) {
			char line[100];
			int n = snprintf(line, sizeof(line), "line %06zu of the body, compressible\r\n", j);
			pn_spool_write(body, line, (size_t)n);
			pn_buf_append(&want, line, (size_t)n);
		}
		if (arc_archive_message(a, d, &src, &r, &err) < 0)
			fail_msg("case %zu: %s", i, err);
		if (r.stored_size >= r.size / 3)
			fail_msg("case %zu: stored %llu of %llu bytes: not compressed", i, r.stored_size,
				 r.size);
		got = get(a, r.sha256, NULL, &len, &rc);
		assert_int_equal(rc, 0);
		if (len != pn_buf_len(&want) || memcmp(got, pn_buf_str(&want), len) != 0)
			fail_msg("case %zu: got %zu bytes back, want %zu identical", i, len,
				 pn_buf_len(&want));
		pn_free(got);
		pn_buf_free(&want);
		pn_spool_free(body);
		arc_delivery_free(d);
		arc_archive_close(a);
		pn_free((char *)s.dir);
		pn_free(name);
	}
}

static void encrypts_to_certificates_and_decrypts_with_either_key(void **state)
{
	arc_settings s = settings("sealed");
	char *certs = pn_asprintf("%s, %s", rsa_cert, ec_cert);
	arc_archive *a;
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d = envelope("alice@example.com", rcpts, 0);
	arc_result r;
	const char *keys[][2] = {{rsa_key, rsa_cert}, {ec_key, ec_cert}, {rsa_key, NULL}};
	char *path, *got, *err = NULL;
	size_t i, len;
	int rc, enc;

	(void)state;
	s.certificates = certs;
	a = open_archive(&s);
	r = put(a, plain_msg, sizeof(plain_msg) - 1, d);
	assert_int_equal(arc_store_find(a->store, r.sha256, &path, &enc), 0);
	assert_int_equal(enc, 1);
	assert_non_null(strstr(path, ".eml.zst.p7m"));
	/* the plaintext is nowhere in the stored file */
	got = t_read_file(path, &len);
	assert_null(memmem(got, len, "zeppelin", 8));
	pn_free(got);
	/* without the key: refused */
	got = get(a, r.sha256, NULL, &len, &rc);
	assert_int_equal(rc, -1);
	pn_free(got);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		arc_key *k = arc_key_load(keys[i][0], keys[i][1], &err);
		if (k == NULL)
			fail_msg("key %zu: %s", i, err);
		got = get(a, r.sha256, k, &len, &rc);
		if (rc != 0 || len != sizeof(plain_msg) - 1 || memcmp(got, plain_msg, len) != 0)
			fail_msg("key %zu: rc %d, %zu bytes: want the original message", i, rc, len);
		pn_free(got);
		arc_key_free(k);
	}
	/* and with nothing but openssl and zstd */
	for (i = 0; i < 2; i++) {
		char *outp = pn_asprintf("%s/sealed%zu.out", base, i), *data;
		assert_int_equal(run("openssl cms -decrypt -inform DER -in %s -inkey %s -recip %s "
				     "| zstd -q -d -c > %s", path, keys[i][0], keys[i][1], outp), 0);
		data = t_read_file(outp, &len);
		if (len != sizeof(plain_msg) - 1 || memcmp(data, plain_msg, len) != 0)
			fail_msg("openssl cms -decrypt with key %zu: %zu bytes, want the message", i, len);
		pn_free(data);
		pn_free(outp);
	}
	/* the index still finds the subject; full text was indexed at write time */
	assert_int_equal(count_query(a, "text", "zeppelin"), 1);
	pn_free(path);
	arc_delivery_free(d);
	arc_archive_close(a);
	pn_free(certs);
	pn_free((char *)s.dir);
}

/* flip_byte - change one byte in the middle of a file */
static void flip_byte(const char *path)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, &c, 1, st.st_size / 2), 1);
	c ^= 0x55;
	assert_int_equal(pwrite(fd, &c, 1, st.st_size / 2), 1);
	close(fd);
}

/* plain_hex - the SHA-256 of the test message, as a plain archive names it */
static void plain_hex(const char *msg, size_t len, char out[65])
{
	unsigned char d[PN_SHA256_LEN];

	pn_sha256_once(msg, len, d);
	pn_hex(d, sizeof(d), out);
}

/* flip_byte_at_end - change the byte back bytes before the end of a file */
static void flip_byte_at_end(const char *path, off_t back)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, &c, 1, st.st_size - back), 1);
	c ^= 0x55;
	assert_int_equal(pwrite(fd, &c, 1, st.st_size - back), 1);
	close(fd);
}

static void sealed_objects_are_gcm_auth_enveloped_data_with_oaep_and_ecdh(void **state)
{
	arc_settings s = settings("gcm");
	char *certs = pn_asprintf("%s %s", rsa_cert, ec_cert);
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d = envelope("alice@example.com", rcpts, 0);
	char *path, *printed, *outp = pn_asprintf("%s/gcm.print", base), *copy;
	arc_archive *a;
	arc_result r;
	size_t len;
	int enc;

	(void)state;
	s.certificates = certs;
	a = open_archive(&s);
	r = put(a, plain_msg, sizeof(plain_msg) - 1, d);
	assert_int_equal(arc_store_find(a->store, r.sha256, &path, &enc), 0);
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s > %s", path, outp), 0);
	printed = t_read_file(outp, &len);
	if (strstr(printed, "contentType: id-smime-ct-authEnvelopedData") == NULL
	    || strstr(printed, "algorithm: aes-256-gcm") == NULL
	    || strstr(printed, "algorithm: rsaesOaep") == NULL
	    || strstr(printed, "OBJECT            :sha256") == NULL
	    || strstr(printed, "dhSinglePass-stdDH-sha256kdf-scheme") == NULL
	    || strstr(printed, "aes-256-cbc") != NULL)
		fail_msg("want AuthEnvelopedData, AES-256-GCM, RSA-OAEP-SHA256, ECDH-SHA256:\n%s",
			 printed);
	pn_free(printed);
	/* authenticated: a changed byte is refused, not decrypted to something else */
	copy = pn_asprintf("%s/gcm.flipped", base);
	assert_int_equal(run("cp %s %s", path, copy), 0);
	flip_byte_at_end(copy, 80);	/* in the encrypted content, before the tag */
	if (run("openssl cms -decrypt -inform DER -in %s -inkey %s -recip %s -out /dev/null "
		"2>/dev/null", copy, rsa_key, rsa_cert) == 0)
		fail_msg("openssl cms decrypted an object with a changed byte");
	pn_free(copy);
	pn_free(outp);
	pn_free(path);
	arc_delivery_free(d);
	arc_archive_close(a);
	pn_free(certs);
	pn_free((char *)s.dir);
}

static void sealed_object_names_are_keyed_by_the_archive_key(void **state)
{
	arc_settings s = settings("keyed");
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d1 = envelope("alice@example.com", rcpts, 0);
	arc_delivery *d2 = envelope("carol@example.com", rcpts, 0);
	char hex[65], *keyfile, *got, *err = NULL;
	arc_archive *a;
	arc_result r1, r2;
	arc_key *k;
	struct stat st;
	size_t len;
	int rc;

	(void)state;
	s.certificates = rsa_cert;
	plain_hex(plain_msg, sizeof(plain_msg) - 1, hex);
	a = open_archive(&s);
	r1 = put(a, plain_msg, sizeof(plain_msg) - 1, d1);
	if (strcmp(r1.sha256, hex) == 0)
		fail_msg("object named by the message's SHA-256 %s: a listing confirms the message",
			 hex);
	/* the plaintext SHA-256 is nowhere in the archive: names, journal, index */
	if (run("grep -rqa %s %s", hex, s.dir) == 0 || run("find %s -name '%s*' | grep -q .",
							  s.dir, hex) == 0)
		fail_msg("the message's SHA-256 %s can be found in %s", hex, s.dir);
	/* the same message gets the same name: stored once */
	r2 = put(a, plain_msg, sizeof(plain_msg) - 1, d2);
	assert_string_equal(r2.sha256, r1.sha256);
	assert_int_equal(r2.dedup, 1);
	keyfile = pn_asprintf("%s/object-name.key", s.dir);
	assert_int_equal(lstat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* and reads back, checked against its keyed name */
	k = arc_key_load(rsa_key, rsa_cert, &err);
	assert_non_null(k);
	got = get(a, r1.sha256, k, &len, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(len, sizeof(plain_msg) - 1);
	assert_memory_equal(got, plain_msg, len);
	pn_free(got);
	arc_archive_close(a);
	/* a key group or others may read is refused */
	assert_int_equal(chmod(keyfile, 0640), 0);
	a = arc_archive_open(&s, &err);
	assert_null(a);
	assert_non_null(strstr(err, "object-name.key"));
	pn_free(err);
	err = NULL;
	assert_int_equal(chmod(keyfile, 0600), 0);
	/* another archive, another key: another name for the same message */
	{
		arc_settings s2 = settings("keyed2");
		arc_archive *b;
		arc_result r3;
		arc_delivery *d3 = envelope("alice@example.com", rcpts, 0);
		s2.certificates = rsa_cert;
		b = open_archive(&s2);
		r3 = put(b, plain_msg, sizeof(plain_msg) - 1, d3);
		assert_string_not_equal(r3.sha256, r1.sha256);
		arc_delivery_free(d3);
		arc_archive_close(b);
		pn_free((char *)s2.dir);
	}
	arc_key_free(k);
	pn_free(keyfile);
	arc_delivery_free(d1);
	arc_delivery_free(d2);
	pn_free((char *)s.dir);
}

static void objects_written_in_the_old_formats_stay_readable(void **state)
{
	arc_settings s = settings("legacy");
	static const char other[] = "From: x@example.com\r\nSubject: old plain\r\n\r\nold body\r\n";
	char hex[65], hex2[65], *eml = pn_asprintf("%s/legacy.eml", base), *got, *err = NULL;
	char *eml2 = pn_asprintf("%s/legacy2.eml", base), *outp = pn_asprintf("%s/old.print", base);
	char *printed, *obj;
	arc_archive *a;
	arc_key *k;
	arc_object o;
	FILE *fp;
	size_t len;
	int rc;

	(void)state;
	s.certificates = rsa_cert;
	a = open_archive(&s);
	plain_hex(plain_msg, sizeof(plain_msg) - 1, hex);
	plain_hex(other, sizeof(other) - 1, hex2);
	fp = fopen(eml, "wb");
	fwrite(plain_msg, 1, sizeof(plain_msg) - 1, fp);
	fclose(fp);
	fp = fopen(eml2, "wb");
	fwrite(other, 1, sizeof(other) - 1, fp);
	fclose(fp);
	/* as earlier versions wrote them: EnvelopedData, AES-256-CBC, RSA PKCS#1 v1.5 */
	obj = pn_asprintf("%s/objects/%.2s/%s.eml.zst.p7m", s.dir, hex, hex);
	assert_int_equal(run("mkdir -p %s/objects/%.2s && zstd -q -c %s | openssl cms -encrypt "
			     "-binary -aes256 -outform DER -out %s %s", s.dir, hex, eml, obj,
			     rsa_cert), 0);
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s > %s", obj, outp), 0);
	printed = t_read_file(outp, &len);
	assert_non_null(strstr(printed, "contentType: pkcs7-envelopedData"));
	assert_non_null(strstr(printed, "aes-256-cbc"));
	pn_free(printed);
	/* and a plain one named by its SHA-256 */
	assert_int_equal(run("mkdir -p %s/objects/%.2s && zstd -q -c %s > %s/objects/%.2s/%s.eml.zst",
			     s.dir, hex2, eml2, s.dir, hex2, hex2), 0);
	k = arc_key_load(rsa_key, rsa_cert, &err);
	assert_non_null(k);
	got = get(a, hex, k, &len, &rc);
	if (rc != 0 || len != sizeof(plain_msg) - 1 || memcmp(got, plain_msg, len) != 0)
		fail_msg("old sealed object: rc %d, %zu bytes: want the message", rc, len);
	pn_free(got);
	assert_int_equal(arc_store_check(a->store, hex, k, &o, &err), 0);
	got = get(a, hex2, NULL, &len, &rc);
	if (rc != 0 || len != sizeof(other) - 1 || memcmp(got, other, len) != 0)
		fail_msg("old plain object: rc %d, %zu bytes: want the message", rc, len);
	pn_free(got);
	arc_key_free(k);
	arc_archive_close(a);
	pn_free(obj);
	pn_free(outp);
	pn_free(eml);
	pn_free(eml2);
	pn_free((char *)s.dir);
}

static void verify_finds_flipped_bytes_and_deleted_objects(void **state)
{
	static const int encrypted[] = {0, 1};
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		char *name = pn_asprintf("verify%zu", i), *lines, *p1, *p2;
		arc_settings s = settings(name);
		arc_archive *a;
		const char *rcpts[] = {"bob@example.org", NULL};
		arc_delivery *d1 = envelope("alice@example.com", rcpts, 0);
		arc_delivery *d2 = envelope("alice@example.com", rcpts, 0);
		arc_verify_report rep;
		arc_result r1, r2;
		char other[sizeof(plain_msg) + 16];
		int enc;

		if (encrypted[i])
			s.certificates = rsa_cert;
		a = open_archive(&s);
		r1 = put(a, plain_msg, sizeof(plain_msg) - 1, d1);
		snprintf(other, sizeof(other), "%sextra\r\n", plain_msg);
		r2 = put(a, other, strlen(other), d2);
		if (verify_quiet(a, &rep, &lines) != 0)
			fail_msg("case %zu: fresh archive not clean:\n%s", i, lines);
		assert_int_equal(rep.objects, 2);
		assert_int_equal(rep.deliveries, 2);
		assert_int_equal(rep.content_unchecked, encrypted[i] ? 2 : 0);
		pn_free(lines);

		assert_int_equal(arc_store_find(a->store, r1.sha256, &p1, &enc), 0);
		flip_byte(p1);
		assert_int_equal(verify_quiet(a, &rep, &lines), 1);
		if (rep.corrupt != 1 || strstr(lines, r1.sha256) == NULL)
			fail_msg("case %zu: corrupt %zu, want 1 naming %s:\n%s", i, rep.corrupt,
				 r1.sha256, lines);
		pn_free(lines);

		assert_int_equal(arc_store_find(a->store, r2.sha256, &p2, &enc), 0);
		assert_int_equal(unlink(p2), 0);
		assert_int_equal(verify_quiet(a, &rep, &lines), 1);
		if (rep.missing != 1 || strstr(lines, d2->id) == NULL)
			fail_msg("case %zu: missing %zu, want 1 naming delivery %s:\n%s", i,
				 rep.missing, d2->id, lines);
		pn_free(lines);
		pn_free(p1);
		pn_free(p2);
		arc_delivery_free(d1);
		arc_delivery_free(d2);
		arc_archive_close(a);
		pn_free((char *)s.dir);
		pn_free(name);
	}
}

static void reindex_rebuilds_the_same_index(void **state)
{
	arc_settings s = settings("reindex");
	arc_archive *a = open_archive(&s);
	const char *r1[] = {"bob@example.org", "x@example.net", NULL};
	const char *r2[] = {"carol@example.org", NULL};
	arc_delivery *d[3];
	arc_query q, held;
	char *before, *after, *err = NULL, *path, *ft_before, *ft_after;
	size_t n, k;
	char *other = variant("dirigible");

	(void)state;
	d[0] = envelope("alice@example.com", r1, 1700000000);
	d[1] = envelope("alice@example.com", r2, 1700000100);
	d[2] = envelope("dave@example.com", r2, 1700086400);
	put(a, plain_msg, sizeof(plain_msg) - 1, d[0]);
	put(a, plain_msg, sizeof(plain_msg) - 1, d[1]);
	put(a, other, strlen(other), d[2]);
	arc_query_init(&held);
	arc_query_add_key(&held, d[1]->id);
	if (arc_hold(a, &held, 1, "case 42", "tester", 1700200000000000LL, &k, &err) < 0)
		fail_msg("hold: %s", err);
	assert_int_equal(k, 1);
	arc_query_init(&q);
	before = dump(a, &q, &n);
	assert_int_equal(n, 3);
	ft_before = pn_asprintf("%zu %zu", count_query(a, "text", "dirigible"),
				count_query(a, "text", "zeppelin"));
	assert_string_equal(ft_before, "1 2");
	/* a row lost from the index is reported, and reindex brings it back */
	{
		arc_verify_report rep;
		char *lines, *db = pn_asprintf("%s/index.db", s.dir), *sql;
		sqlite3 *h;
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		sql = pn_asprintf("DELETE FROM deliveries WHERE id = '%s'", d[2]->id);
		assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(h);
		assert_int_equal(verify_quiet(a, &rep, &lines), 1);
		if (rep.not_in_index != 1 || strstr(lines, d[2]->id) == NULL)
			fail_msg("want delivery %s reported not in index:\n%s", d[2]->id, lines);
		pn_free(lines);
		pn_free(sql);
		pn_free(db);
	}
	if (arc_reindex(a, &k, &err) < 0)
		fail_msg("reindex: %s", err);
	after = dump(a, &q, &n);
	if (strcmp(before, after) != 0)
		fail_msg("index after reindex differs:\n--- before\n%s--- after\n%s", before, after);
	ft_after = pn_asprintf("%zu %zu", count_query(a, "text", "dirigible"),
			       count_query(a, "text", "zeppelin"));
	assert_string_equal(ft_after, ft_before);
	pn_free(after);
	arc_archive_close(a);

	/* delete the database itself: the journal and objects bring it all back */
	path = pn_asprintf("%s/index.db", s.dir);
	assert_int_equal(unlink(path), 0);
	pn_free(path);
	a = open_archive(&s);
	after = dump(a, &q, &n);
	if (strcmp(before, after) != 0)
		fail_msg("index rebuilt at open differs:\n--- before\n%s--- after\n%s", before, after);
	pn_free(after);
	pn_free(before);
	pn_free(ft_before);
	pn_free(ft_after);
	pn_free(other);
	arc_query_clear(&q);
	arc_query_clear(&held);
	for (k = 0; k < 3; k++)
		arc_delivery_free(d[k]);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

/* journal_has - whether any journal line mentions text */
static int journal_has(const arc_settings *s, const char *text)
{
	return run("grep -qF '%s' %s/journal/*.jsonl 2>/dev/null", text, s->dir) == 0;
}

static void prune_deletes_expired_deliveries_but_never_held_ones(void **state)
{
	arc_settings s = settings("prune");
	arc_archive *a;
	const char *rcpts[] = {"bob@example.org", NULL};
	long long year = 365LL * 86400, now = 1700000000;
	arc_delivery *old1, *old2, *old3, *recent;
	arc_prune_report rep;
	arc_verify_report vrep;
	arc_query q;
	char m2[sizeof(plain_msg) + 32], m3[sizeof(plain_msg) + 32], *err = NULL, *lines;
	char *out = NULL;
	size_t len = 0, k, n;
	FILE *fp;
	arc_result r1, r2, r3;

	(void)state;
	s.retention = "2y";
	a = open_archive(&s);
	snprintf(m2, sizeof(m2), "%sheld one\r\n", plain_msg);
	snprintf(m3, sizeof(m3), "%sshared\r\n", plain_msg);
	old1 = envelope("alice@example.com", rcpts, now - 3 * year);	/* expired */
	old2 = envelope("alice@example.com", rcpts, now - 3 * year);	/* expired, held */
	old3 = envelope("alice@example.com", rcpts, now - 3 * year);	/* expired, object shared */
	recent = envelope("alice@example.com", rcpts, now - 10 * 86400);
	r1 = put(a, plain_msg, sizeof(plain_msg) - 1, old1);
	r2 = put(a, m2, strlen(m2), old2);
	r3 = put(a, m3, strlen(m3), old3);
	put(a, m3, strlen(m3), recent);
	arc_query_init(&q);
	arc_query_add_key(&q, old2->id);
	assert_int_equal(arc_hold(a, &q, 1, "litigation", "tester", now * 1000000LL, &k, &err), 0);
	arc_query_clear(&q);

	/* dry run: says what would go, changes nothing */
	fp = open_memstream(&out, &len);
	assert_int_equal(arc_prune(a, now + 3600, 1, fp, &rep, &err), 0);
	fclose(fp);
	if (rep.deliveries != 2 || rep.objects != 1)
		fail_msg("dry run: %zu deliveries %zu objects, want 2 and 1:\n%s", rep.deliveries,
			 rep.objects, out);
	assert_non_null(strstr(out, old1->id));
	assert_non_null(strstr(out, old3->id));
	assert_null(strstr(out, old2->id));
	pn_free(out);
	assert_int_equal(count_query(a, NULL, NULL), 4);

	fp = fopen("/dev/null", "w");
	if (arc_prune(a, now + 3600, 0, fp, &rep, &err) < 0)
		fail_msg("prune: %s", err);
	fclose(fp);
	assert_int_equal(rep.deliveries, 2);
	assert_int_equal(rep.objects, 1);
	arc_query_init(&q);
	pn_free(dump(a, &q, &n));
	assert_int_equal(n, 2);
	assert_int_equal(arc_store_find(a->store, r1.sha256, NULL, NULL), -1);
	assert_int_equal(arc_store_find(a->store, r2.sha256, NULL, NULL), 0);	/* held */
	assert_int_equal(arc_store_find(a->store, r3.sha256, NULL, NULL), 0);	/* still used */
	assert_false(journal_has(&s, old1->id));
	assert_false(journal_has(&s, old3->id));
	assert_true(journal_has(&s, old2->id));
	if (verify_quiet(a, &vrep, &lines) != 0)
		fail_msg("verify after prune:\n%s", lines);
	pn_free(lines);

	/* released: the next prune takes it */
	arc_query_add_key(&q, old2->id);
	assert_int_equal(arc_hold(a, &q, 0, "", "tester", (now + 1) * 1000000LL, &k, &err), 0);
	assert_int_equal(k, 1);
	arc_query_clear(&q);
	fp = fopen("/dev/null", "w");
	assert_int_equal(arc_prune(a, now + 3600, 0, fp, &rep, &err), 0);
	fclose(fp);
	assert_int_equal(rep.deliveries, 1);
	assert_int_equal(arc_store_find(a->store, r2.sha256, NULL, NULL), -1);
	/* a reindex does not bring pruned deliveries back */
	assert_int_equal(arc_reindex(a, &k, &err), 0);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	if (verify_quiet(a, &vrep, &lines) != 0)
		fail_msg("verify after second prune:\n%s", lines);
	pn_free(lines);
	arc_delivery_free(old1);
	arc_delivery_free(old2);
	arc_delivery_free(old3);
	arc_delivery_free(recent);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void failures_record_nothing(void **state)
{
	arc_settings s = settings("failures");
	arc_archive *a = open_archive(&s);
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d = envelope("alice@example.com", rcpts, 0);
	arc_source src = {plain_msg, sizeof(plain_msg) - 1, NULL};
	arc_verify_report rep;
	arc_result r;
	char *err = NULL, *objdir = pn_asprintf("%s/objects", s.dir), *moved, *lines, *db;
	sqlite3 *locker;

	(void)state;
	/* the object directory unusable (as root, permissions would not stop us) */
	moved = pn_asprintf("%s.away", objdir);
	assert_int_equal(rename(objdir, moved), 0);
	assert_int_equal(run("touch %s", objdir), 0);
	assert_int_equal(arc_archive_message(a, d, &src, &r, &err), -1);
	assert_non_null(err);
	pn_free(err);
	err = NULL;
	assert_int_equal(count_query(a, NULL, NULL), 0);
	assert_false(journal_has(&s, "delivery"));
	assert_int_equal(unlink(objdir), 0);
	assert_int_equal(rename(moved, objdir), 0);

	/* the index locked past the timeout: the delivery is recorded all the
	 * same (the journal is the truth, the index follows it) */
	db = pn_asprintf("%s/index.db", s.dir);
	assert_int_equal(sqlite3_open(db, &locker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_busy_timeout(locker, 0);
	arc_archive_close(a);
	s.busy_ms = 200;
	s.catch_up = 0;
	a = open_archive(&s);
	put(a, plain_msg, sizeof(plain_msg) - 1, d);
	assert_true(journal_has(&s, "\"type\":\"delivery\""));
	assert_false(journal_has(&s, "\"type\":\"void\""));
	assert_int_equal(count_query(a, NULL, NULL), 0);	/* not indexed yet */
	assert_int_equal(arc_archive_sync(a, &err), -1);	/* still locked */
	pn_free(err);
	err = NULL;
	sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(locker);
	assert_int_equal(arc_archive_sync(a, &err), 0);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	assert_int_equal(verify_quiet(a, &rep, &lines), 0);
	pn_free(lines);
	/* and a crash before the index caught up loses nothing either */
	arc_archive_close(a);
	assert_int_equal(run("rm -f %s/index.db %s/index.db-wal %s/index.db-shm", s.dir, s.dir,
			     s.dir), 0);
	s.busy_ms = 2000;
	s.catch_up = 1;
	a = open_archive(&s);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	put(a, plain_msg, sizeof(plain_msg) - 1, d);
	assert_int_equal(count_query(a, NULL, NULL), 2);
	pn_free(db);
	pn_free(moved);
	pn_free(objdir);
	arc_delivery_free(d);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void index_waits_for_the_outcome(void **state)
{
	arc_settings s = settings("outcome");
	arc_archive *a;
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d = envelope("alice@example.com", rcpts, 0);
	char *blimp = variant("blimp"), *err = NULL, *lines;
	arc_verify_report rep;
	arc_result r;
	size_t applied;

	(void)state;
	s.await_outcome = 1;
	a = open_archive(&s);
	/* journaled, but the index waits for the MTA's answer */
	r = put(a, plain_msg, sizeof(plain_msg) - 1, d);
	assert_int_equal(count_query(a, NULL, NULL), 0);
	assert_int_equal(arc_archive_outcome(a, r.id, d->time, 1, NULL, &err), 0);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	/* refused after storing: voided, never indexed */
	r = put(a, blimp, strlen(blimp), d);
	assert_int_equal(arc_archive_sync(a, &err), 0);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	assert_int_equal(arc_archive_outcome(a, r.id, d->time, 0, "tempfail by audit", &err), 0);
	assert_true(journal_has(&s, "\"type\":\"void\""));
	assert_int_equal(count_query(a, NULL, NULL), 1);
	assert_int_equal(count_query(a, "text", "blimp"), 0);
	/* the object stays (prune takes it); verify finds nothing wrong */
	if (verify_quiet(a, &rep, &lines) != 0)
		fail_msg("verify after a void:\n%s", lines);
	pn_free(lines);
	assert_int_equal(arc_reindex(a, &applied, &err), 0);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	assert_int_equal(count_query(a, "text", "blimp"), 0);
	pn_free(blimp);
	arc_delivery_free(d);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

/* journal_count - how many journal lines mention text */
static long journal_count(const arc_settings *s, const char *text)
{
	char *cmd = pn_asprintf("cat %s/journal/*.jsonl | grep -cF '%s'", s->dir, text);
	FILE *p = popen(cmd, "r");
	long n = -1;

	if (p == NULL || fscanf(p, "%ld", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	pn_free(cmd);
	return n;
}

#define WRITERS 6
#define PER_WRITER 20

typedef struct writer {
	arc_archive *a;
	int n;
} writer;

/* write_some - one session's deliveries: every other one the same message */
static void *write_some(void *arg)
{
	writer *w = arg;
	const char *rcpts[] = {"bob@example.org", NULL};
	int i;

	for (i = 0; i < PER_WRITER; i++) {
		arc_delivery *d = envelope("alice@example.com", rcpts, 0);
		arc_source src = {plain_msg, sizeof(plain_msg) - 1, NULL};
		char *text = NULL, *err = NULL;
		arc_result r;
		if (i % 2) {
			char word[32];
			snprintf(word, sizeof(word), "w%dm%d", w->n, i);
			text = variant(word);
			src.head = text;
			src.head_len = strlen(text);
		}
		if (arc_archive_message(w->a, d, &src, &r, &err) < 0) {
			fprintf(stderr, "writer %d: %s\n", w->n, err);
			pn_free(err);
			w->n = -1;
		}
		pn_free(text);
		arc_delivery_free(d);
	}
	return NULL;
}

static void indexer_thread_follows_concurrent_writers(void **state)
{
	arc_settings s = settings("threads");
	arc_archive *a;
	pthread_t t[WRITERS];
	writer w[WRITERS];
	arc_verify_report rep;
	char *err = NULL, *lines;
	int i;

	(void)state;
	s.indexer_thread = 1;
	a = open_archive(&s);
	for (i = 0; i < WRITERS; i++) {
		w[i].a = a;
		w[i].n = i;
		assert_int_equal(pthread_create(&t[i], NULL, write_some, &w[i]), 0);
	}
	for (i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].n, i);
	}
	/* every delivery journaled; the shared message's object journaled once,
	 * though the index lagged behind the writers that reused it */
	assert_int_equal(journal_count(&s, "\"type\":\"delivery\""), WRITERS * PER_WRITER);
	assert_int_equal(journal_count(&s, "\"type\":\"object\""), 1 + WRITERS * PER_WRITER / 2);
	assert_int_equal(arc_archive_sync(a, &err), 0);
	assert_int_equal(count_query(a, NULL, NULL), WRITERS * PER_WRITER);
	assert_int_equal(count_query(a, "text", "zeppelin"), WRITERS * PER_WRITER / 2);
	if (verify_quiet(a, &rep, &lines) != 0)
		fail_msg("verify:\n%s", lines);
	pn_free(lines);
	/* the thread stops with the archive, leaving the index current */
	arc_archive_close(a);
	a = open_archive(&s);
	assert_int_equal(count_query(a, NULL, NULL), WRITERS * PER_WRITER);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void leftover_temporary_files_are_removed_at_open(void **state)
{
	arc_settings s = settings("temps");
	arc_archive *a = open_archive(&s);
	char *dead, *live;

	(void)state;
	arc_archive_close(a);
	assert_int_equal(run("mkdir -p %s/objects/ab", s.dir), 0);
	/* pid 2^22+1 is above pid_max on this system class: surely dead */
	dead = pn_asprintf("%s/objects/ab/.tmp-4194305-00000001", s.dir);
	live = pn_asprintf("%s/objects/ab/.tmp-%ld-00000002", s.dir, (long)getpid());
	assert_int_equal(run("touch %s %s", dead, live), 0);
	a = open_archive(&s);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);	/* its writer still runs */
	unlink(live);
	pn_free(dead);
	pn_free(live);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void journal_line_cut_by_a_crash_is_repaired(void **state)
{
	arc_settings s = settings("cut");
	arc_archive *a = open_archive(&s);
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d = envelope("alice@example.com", rcpts, 1700000000);
	arc_verify_report rep;
	char *lines;

	(void)state;
	put(a, plain_msg, sizeof(plain_msg) - 1, d);
	arc_archive_close(a);
	/* a record half written when the daemon was killed */
	assert_int_equal(run("printf '{\"type\":\"delivery\",\"id\":\"2023' >> %s/journal/2023-11-14.jsonl",
			     s.dir), 0);
	a = open_archive(&s);
	if (verify_quiet(a, &rep, &lines) != 0)
		fail_msg("after repair:\n%s", lines);
	pn_free(lines);
	assert_int_equal(count_query(a, NULL, NULL), 1);
	arc_delivery_free(d);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

static void refuses_an_archive_of_another_format(void **state)
{
	arc_settings s = settings("format");
	arc_archive *a = open_archive(&s);
	char *err = NULL, *path = pn_asprintf("%s/FORMAT", s.dir), *text;
	size_t len;

	(void)state;
	arc_archive_close(a);
	text = t_read_file(path, &len);
	assert_string_equal(text, "postern-archive 1\n");
	pn_free(text);
	assert_int_equal(run("echo 'postern-archive 2' > %s", path), 0);
	a = arc_archive_open(&s, &err);
	assert_null(a);
	if (err == NULL || strstr(err, "postern-archive 2") == NULL)
		fail_msg("got error \"%s\", want one naming the format", err ? err : "(none)");
	pn_free(err);
	pn_free(path);
	pn_free((char *)s.dir);
}

static void exports_mbox_maildir_and_eml(void **state)
{
	static const char msg[] =
		"From: a@example.com\r\nSubject: quoting\r\n\r\n"
		"From here on\r\n>From quoted once\r\n>>From twice\r\nFromage\r\n"
		"bare\rCR\r\nlast line without end";
	static const char want_mbox[] =
		"From a@example.com Tue Nov 14 22:13:20 2023\n"
		"From: a@example.com\nSubject: quoting\n\n"
		">From here on\n>>From quoted once\n>>>From twice\nFromage\n"
		"bare\rCR\nlast line without end\n\n";
	arc_settings s = settings("export");
	arc_archive *a = open_archive(&s);
	const char *rcpts[] = {"bob@example.org", NULL};
	arc_delivery *d1 = envelope("a@example.com", rcpts, 1700000000);
	arc_delivery *d2 = envelope("a@example.com", rcpts, 1700000001);
	arc_exporter *x;
	arc_result r;
	char *err = NULL, *path, *data;
	size_t len;

	(void)state;
	r = put(a, msg, sizeof(msg) - 1, d1);
	put(a, msg, sizeof(msg) - 1, d2);	/* same message: exported once */
	path = pn_asprintf("%s/out.mbox", base);
	x = arc_export_open(ARC_EXPORT_MBOX, path, &err);
	assert_non_null(x);
	assert_int_equal(arc_export_message(x, a, d1, &err), 0);
	assert_int_equal(arc_export_message(x, a, d2, &err), 0);
	assert_int_equal(arc_export_close(x, &err), 0);
	data = t_read_file(path, &len);
	if (strcmp(data, want_mbox) != 0)
		fail_msg("mbox: got\n%s\nwant\n%s", data, want_mbox);
	pn_free(data);
	pn_free(path);

	path = pn_asprintf("%s/eml", base);
	x = arc_export_open(ARC_EXPORT_EML, path, &err);
	assert_non_null(x);
	assert_int_equal(arc_export_message(x, a, d1, &err), 0);
	assert_int_equal(arc_export_message(x, a, d2, &err), 0);
	assert_int_equal(arc_export_close(x, &err), 0);
	pn_free(path);
	path = pn_asprintf("%s/eml/%s.eml", base, r.sha256);
	data = t_read_file(path, &len);
	assert_int_equal(len, sizeof(msg) - 1);
	assert_memory_equal(data, msg, len);
	pn_free(data);
	pn_free(path);
	assert_int_equal(run("test $(wc -l < %s/eml/deliveries.jsonl) -eq 2", base), 0);

	path = pn_asprintf("%s/Maildir", base);
	x = arc_export_open(ARC_EXPORT_MAILDIR, path, &err);
	assert_non_null(x);
	assert_int_equal(arc_export_message(x, a, d1, &err), 0);
	assert_int_equal(arc_export_close(x, &err), 0);
	pn_free(path);
	path = pn_asprintf("%s/Maildir/new/1700000000.%s.postern", base, d1->id);
	data = t_read_file(path, &len);
	assert_non_null(data);
	assert_null(strstr(data, "\r\n"));
	assert_non_null(strstr(data, "\nFrom here on\n"));	/* no quoting in Maildir */
	pn_free(data);
	pn_free(path);
	arc_delivery_free(d1);
	arc_delivery_free(d2);
	arc_archive_close(a);
	pn_free((char *)s.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stores_and_reads_back_byte_for_byte),
		cmocka_unit_test(identical_messages_are_stored_once),
		cmocka_unit_test(compresses_and_streams_large_spooled_bodies),
		cmocka_unit_test(encrypts_to_certificates_and_decrypts_with_either_key),
		cmocka_unit_test(sealed_objects_are_gcm_auth_enveloped_data_with_oaep_and_ecdh),
		cmocka_unit_test(sealed_object_names_are_keyed_by_the_archive_key),
		cmocka_unit_test(objects_written_in_the_old_formats_stay_readable),
		cmocka_unit_test(verify_finds_flipped_bytes_and_deleted_objects),
		cmocka_unit_test(reindex_rebuilds_the_same_index),
		cmocka_unit_test(prune_deletes_expired_deliveries_but_never_held_ones),
		cmocka_unit_test(failures_record_nothing),
		cmocka_unit_test(index_waits_for_the_outcome),
		cmocka_unit_test(indexer_thread_follows_concurrent_writers),
		cmocka_unit_test(leftover_temporary_files_are_removed_at_open),
		cmocka_unit_test(journal_line_cut_by_a_crash_is_repaired),
		cmocka_unit_test(refuses_an_archive_of_another_format),
		cmocka_unit_test(exports_mbox_maildir_and_eml),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
