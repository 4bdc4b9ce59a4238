/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	micro_archive - micro-benchmark of postern-archive's object store
 * SYNOPSIS
 *	micro_archive
 * DESCRIPTION
 *	Stores distinct 10 KB messages (a text message whose Message-ID
 *	and one body line carry a counter, so nothing is deduplicated) in
 *	a private temporary directory and reports messages per second of
 *	wall-clock time (the work waits on fsync) and CPU microseconds per
 *	message:
 *
 *	    archive.store_plain      arc_store_hash() + arc_store_put():
 *	                             SHA-256, zstd level 3, temporary file,
 *	                             fsync, rename, fsync of the directory
 *	    archive.store_encrypted  the same with CMS encryption to one
 *	                             RSA-2048 certificate
 *	    archive.write_fsync_rename  the floor on the same disk: the
 *	                             10 KB message written to a new file,
 *	                             fsync, close, rename (no directory
 *	                             fsync), in a loop
 *	    archive.deliver_plain    arc_archive_message() as the daemon
 *	                             runs it: store, journal with fsync;
 *	                             its indexer thread applies the journal
 *	                             to the SQLite index with full text
 *	                             (process CPU time: counted too)
 *
 *	so archive.store_plain / archive.write_fsync_rename shows what the
 *	store costs beyond the disk. The certificate is made with the
 *	openssl command; without it the encrypted figure is left out.
 *
 *	Output follows the contract of tests/bench/bench.py: one line
 *	"bench NAME VALUE UNIT" per figure; other lines start with "#".
 *	Each figure is the median of three measurements of about
 *	$POSTERN_BENCH_SECONDS wall-clock seconds each (default 1), taken
 *	in three rounds that run every figure once, so the drift of a busy
 *	disk hits them all alike. The
 *	temporary directory is removed at the end.
 * DIAGNOSTICS
 *	Exit status 1 when the store cannot be opened or a message cannot
 *	be stored.
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "milters/archive/archive.h"
#include "milters/archive/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_TARGET (10 * 1024)
#define MAX_ITERATIONS 10000000UL
#define COUNTER_DIGITS 10		/* width of the counter printed into the message */

static char *tmpdir;
static char *msg;			/* the message; its counters are rewritten in place */
static size_t msg_len, id_at, line_at;
static unsigned long serial;
static arc_store *store_plain, *store_enc;
static arc_archive *archive;
static char *base_dir;
static int failed;

/* build_message - a 10 KB text message with two counter slots */
static void build_message(void)
{
	static const char *const words[] = {
		"archive", "quarterly", "figures", "contract", "delivery", "invoice",
		"meeting", "schedule", "minutes", "approval", "budget", "supplier",
	};
	unsigned long x = 99;
	size_t col = 0;
	pn_buf b;

	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "Received: from mail.example.com (mail.example.com [192.0.2.7])\r\n"
		    "\tby mx.postern.test (Postfix) with ESMTPS id 4VQ1xY2ZbCz\r\n"
		    "\tfor <bob@example.org>; Wed, 1 May 2024 12:00:00 +0000 (UTC)\r\n"
		    "From: Alice Example <alice@example.com>\r\n"
		    "To: Bob <bob@example.org>\r\n"
		    "Subject: Contract figures for the quarter\r\n"
		    "Date: Wed, 1 May 2024 12:00:00 +0000\r\n"
		    "Message-ID: <");
	id_at = pn_buf_len(&b);
	pn_buf_printf(&b, "%0*d@example.com>\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "\r\n"
		      "Reference ", COUNTER_DIGITS, 0);
	line_at = pn_buf_len(&b);
	pn_buf_printf(&b, "%0*d\r\n", COUNTER_DIGITS, 0);
	while (pn_buf_len(&b) < MSG_TARGET - 8) {
		x = x * 1103515245UL + 12345UL;
		pn_buf_puts(&b, words[(x >> 16) % (sizeof(words) / sizeof(words[0]))]);
		if ((col += 9) >= 66) {
			pn_buf_puts(&b, "\r\n");
			col = 0;
		} else {
			pn_buf_putc(&b, ' ');
		}
	}
	pn_buf_puts(&b, "\r\n");
	msg = pn_buf_steal(&b, &msg_len);
}

/* next_message - give the message a new counter, so it is a new object */
static void next_message(void)
{
	char num[COUNTER_DIGITS + 1];

	snprintf(num, sizeof(num), "%0*lu", COUNTER_DIGITS, ++serial % 10000000000UL);
	memcpy(msg + id_at, num, COUNTER_DIGITS);
	memcpy(msg + line_at, num, COUNTER_DIGITS);
}

/* put - hash and store one new message in s */
static void put(arc_store *s)
{
	arc_source src = {NULL, 0, NULL};
	unsigned long long size;
	arc_object obj;
	char sha[65], *err = NULL;

	next_message();
	src.head = msg;
	src.head_len = msg_len;
	if (arc_store_hash(&src, sha, &size, NULL) < 0) {
		fprintf(stderr, "micro_archive: cannot hash the message\n");
		failed = 1;
		return;
	}
	src.head = msg;
	src.head_len = msg_len;
	if (arc_store_put(s, &src, sha, size, &obj, &err) < 0) {
		fprintf(stderr, "micro_archive: store: %s\n", err);
		pn_free(err);
		failed = 1;
	}
}

/* put_plain - one message into the plain store */
static void put_plain(void)
{
	put(store_plain);
}

/* put_encrypted - one message into the encrypting store */
static void put_encrypted(void)
{
	put(store_enc);
}

/* write_fsync_rename - the same bytes as a new file: write, fsync, close, rename */
static void write_fsync_rename(void)
{
	char *tmp, *final;
	int fd;

	next_message();
	tmp = pn_asprintf("%s/.tmp-%lu", base_dir, serial);
	final = pn_asprintf("%s/%lu.eml", base_dir, serial);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0
	    || write(fd, msg, msg_len) != (ssize_t)msg_len || fsync(fd) < 0 || close(fd) < 0
	    || rename(tmp, final) < 0) {
		fprintf(stderr, "micro_archive: %s: %s\n", tmp, strerror(errno));
		failed = 1;
	}
	pn_free(tmp);
	pn_free(final);
}

/* deliver - one delivery of a new message through arc_archive_message() */
static void deliver(void)
{
	arc_delivery *d = arc_delivery_new();
	arc_source src = {NULL, 0, NULL};
	arc_result res;
	char *err = NULL;

	next_message();
	src.head = msg;
	src.head_len = msg_len;
	pn_free(d->sender);
	d->sender = pn_strdup("alice@example.com");
	arc_delivery_add_rcpt(d, "bob@example.org");
	pn_free(d->queue_id);
	d->queue_id = pn_asprintf("4VQ%lX", serial);
	d->time = (long long)time(NULL);
	if (arc_archive_message(archive, d, &src, &res, &err) < 0) {
		fprintf(stderr, "micro_archive: deliver: %s\n", err);
		pn_free(err);
		failed = 1;
	}
	arc_delivery_free(d);
}

/* clock_now - seconds on the given clock */
static double clock_now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* measure - messages per wall-clock second over about `seconds`; CPU us/msg in *cpu_us */
static double measure(void (*fn)(void), double seconds, double *cpu_us)
{
	unsigned long n = 0;
	double w0 = clock_now(CLOCK_MONOTONIC), c0 = clock_now(CLOCK_PROCESS_CPUTIME_ID), w;

	do {
		for (int k = 0; k < 4; k++)
			fn();
		n += 4;
		w = clock_now(CLOCK_MONOTONIC) - w0;
	} while (w < seconds && n < MAX_ITERATIONS && !failed);
	*cpu_us = (clock_now(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6 / (double)n;
	return (double)n / w;
}

/* cmp_double - qsort order for doubles */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

typedef struct figure {
	const char *name;
	void (*fn)(void);
	double rate[3], cpu[3];
} figure;

/* report_all - three interleaved rounds of every figure, medians as "bench" lines */
static void report_all(figure *f, size_t n, double seconds)
{
	size_t i;

	for (i = 0; i < n; i++)
		for (int k = 0; k < 4; k++)
			f[i].fn();	/* creates the first object directories */
	for (int r = 0; r < 3 && !failed; r++)
		for (i = 0; i < n && !failed; i++)
			f[i].rate[r] = measure(f[i].fn, seconds, &f[i].cpu[r]);
	if (failed)
		return;
	for (i = 0; i < n; i++) {
		qsort(f[i].rate, 3, sizeof(double), cmp_double);
		qsort(f[i].cpu, 3, sizeof(double), cmp_double);
		printf("bench %s %.1f msg/s\nbench %s_cpu %.1f us/msg\n", f[i].name, f[i].rate[1],
		       f[i].name, f[i].cpu[1]);
	}
	printf("# archive: store_plain runs at %.2f x the write+fsync+rename floor\n",
	       f[1].rate[1] / f[0].rate[1]);
	fflush(stdout);
}

/* run_quiet - run argv with output to /dev/null; its exit status */
static int run_quiet(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* make_cert - an RSA-2048 certificate in tmpdir; its path, or NULL */
static char *make_cert(void)
{
	char *crt = pn_asprintf("%s/rsa.crt", tmpdir), *key = pn_asprintf("%s/rsa.key", tmpdir);
	char *argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
			key, "-out", crt, "-days", "2", "-subj", "/CN=micro-archive", NULL};

	if (run_quiet(argv) != 0) {
		printf("# archive: openssl could not make a certificate: no encrypted figure\n");
		pn_free(crt);
		crt = NULL;
	}
	pn_free(key);
	return crt;
}

/* open_store - a store in tmpdir/name, encrypting to cert when not NULL */
static arc_store *open_store(const char *name, const char *cert, arc_seal **seal)
{
	char *dir = pn_asprintf("%s/%s", tmpdir, name), *err = NULL;
	arc_owner owner = {0, 0, 0};
	arc_store *s = NULL;

	*seal = NULL;
	if (cert && (*seal = arc_seal_load(cert, &err)) == NULL) {
		fprintf(stderr, "micro_archive: %s: %s\n", cert, err);
	} else if (mkdir(dir, 0750) < 0) {
		fprintf(stderr, "micro_archive: mkdir %s: %s\n", dir, strerror(errno));
	} else if ((s = arc_store_open(dir, 3, *seal, &owner, &err)) == NULL) {
		fprintf(stderr, "micro_archive: store %s: %s\n", dir, err);
	}
	pn_free(err);
	pn_free(dir);
	return s;
}

/* open_archive - a whole archive (journal, index, full text) in tmpdir/archive */
static arc_archive *open_archive(void)
{
	char *dir = pn_asprintf("%s/archive", tmpdir), *err = NULL;
	arc_settings set;
	arc_archive *a;

	memset(&set, 0, sizeof(set));
	set.dir = dir;
	set.user = "";
	set.compression_level = 3;
	set.certificates = "";
	set.fulltext = 2;
	set.fulltext_max = 65536;
	set.busy_ms = 2000;
	set.retention = "0";
	set.catch_up = 1;
	set.indexer_thread = 1;
	if ((a = arc_archive_open(&set, &err)) == NULL) {
		fprintf(stderr, "micro_archive: archive %s: %s\n", dir, err);
		pn_free(err);
	}
	pn_free(dir);
	return a;
}

/* remove_one - nftw callback: remove a file or an emptied directory */
static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		fprintf(stderr, "micro_archive: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

int main(void)
{
	const char *env = getenv("POSTERN_BENCH_SECONDS"), *t = getenv("TMPDIR");
	double seconds = env ? strtod(env, NULL) : 1.0;
	arc_seal *seal_plain = NULL, *seal_enc = NULL;
	char *cert;

	if (!(seconds >= 0.05))
		seconds = 0.05;
	if (seconds > 30)
		seconds = 30;
	tmpdir = pn_asprintf("%s/postern-micro-archive-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("micro_archive: mkdtemp");
		pn_free(tmpdir);
		return 1;
	}
	build_message();
	cert = make_cert();
	base_dir = pn_asprintf("%s/floor", tmpdir);
	if (mkdir(base_dir, 0750) < 0) {
		fprintf(stderr, "micro_archive: mkdir %s: %s\n", base_dir, strerror(errno));
		failed = 1;
	}
	if (!failed && (store_plain = open_store("plain", NULL, &seal_plain)) == NULL)
		failed = 1;
	if (!failed && cert && (store_enc = open_store("encrypted", cert, &seal_enc)) == NULL)
		failed = 1;
	if (!failed && (archive = open_archive()) == NULL)
		failed = 1;
	if (!failed) {
		printf("# archive: distinct messages of %zu bytes, zstd level 3, in %s "
		       "(busy machine: compare within one run)\n", msg_len, tmpdir);
		figure f[4] = {
			{"archive.write_fsync_rename", write_fsync_rename, {0}, {0}},
			{"archive.store_plain", put_plain, {0}, {0}},
			{"archive.deliver_plain", deliver, {0}, {0}},
			{"archive.store_encrypted", put_encrypted, {0}, {0}},
		};

		report_all(f, store_enc ? 4 : 3, seconds);
	}
	if (archive)
		arc_archive_close(archive);
	if (store_plain)
		arc_store_close(store_plain);
	if (store_enc)
		arc_store_close(store_enc);
	if (seal_enc)
		arc_seal_free(seal_enc);
	nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	pn_free(cert);
	pn_free(base_dir);
	pn_free(tmpdir);
	pn_free(msg);
	return failed;
}
