/* SPDX-License-Identifier: BSD-2-Clause */
/* tail - stream trail records, across rotations, resumable by cursor (see tail.h) */
#include "milters/audit/tail.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/fileio.h"
#include "milters/audit/export.h"
#include "milters/audit/reader.h"
#include "milters/audit/siem.h"
#include "milters/audit/state.h"
#include "milters/audit/syslog5424.h"
#include "milters/audit/trail.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define CURSOR_MAX 128
#define CHUNK 65536
#define POLL_NS 100000000L	/* 0.1 s between looks at an idle trail */

static volatile sig_atomic_t stop_asked;

/* audit_cursor_parse - "SEQ:SHA256" with an optional newline, strictly */
int audit_cursor_parse(const char *text, size_t len, audit_cursor *c)
{
	unsigned long long seq = 0;
	size_t i = 0, digits;

	if (len > 0 && text[len - 1] == '\n')
		len--;
	for (digits = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
		unsigned d = (unsigned)(text[i] - '0');
		if (digits == 0 && d == 0)
			return -1;	/* no leading zero, no seq 0 */
		if (seq > (~0ULL - d) / 10)
			return -1;
		seq = seq * 10 + d;
	}
	if (digits == 0 || i >= len || text[i++] != ':' || len - i != 64)
		return -1;
	for (size_t k = 0; k < 64; k++) {
		char h = text[i + k];
		if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
			return -1;
		c->hash[k] = h;
	}
	c->hash[64] = '\0';
	c->seq = seq;
	return 0;
}

/* audit_cursor_load - read a cursor file; *found 0 when it is not there */
int audit_cursor_load(const char *path, audit_cursor *c, int *found, char **err)
{
	char *text;
	size_t len = 0;
	int bad;

	*err = NULL;
	*found = 0;
	if ((text = pn_read_file(path, CURSOR_MAX, &len)) == NULL) {
		if (errno == ENOENT)
			return 0;
		if (errno != EFBIG) {
			*err = pn_asprintf("cannot read cursor %s: %s", path, strerror(errno));
			return -1;
		}
	}
	bad = text == NULL || audit_cursor_parse(text, len, c) < 0;
	pn_free(text);
	if (bad) {
		*err = pn_asprintf("cursor %s does not hold SEQ:SHA256", path);
		return -1;
	}
	*found = 1;
	return 0;
}

/* audit_cursor_save - write the cursor beside its place, then rename over it */
int audit_cursor_save(const char *path, const audit_cursor *c, char **err)
{
	char *tmp = pn_asprintf("%s.tmp", path), text[96];
	int fd, n, ok;

	*err = NULL;
	n = snprintf(text, sizeof(text), "%llu:%s\n", c->seq, c->hash);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		*err = pn_asprintf("cannot write cursor %s: %s", tmp, strerror(errno));
		pn_free(tmp);
		return -1;
	}
	ok = write(fd, text, (size_t)n) == n;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		*err = pn_asprintf("cannot write cursor %s: %s", path, strerror(errno));
		unlink(tmp);
		pn_free(tmp);
		return -1;
	}
	pn_free(tmp);
	return 0;
}

/* ---- following ----------------------------------------------------------- */

typedef enum { START_FIRST, START_SEQ, START_CURSOR, START_END } start_mode;

/* A file being read for complete lines, as it grows. */
typedef struct follower {
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;		/* bytes consumed, partial line included */
	pn_buf partial;		/* a line whose newline has not been written yet */
	int skip_first;		/* started in the middle of a line: drop up to its end */
} follower;

typedef struct tailer {
	audit_export *x;
	FILE *out;
	json_tokener *tok;
	start_mode mode;
	const char *cursor_path;
	audit_cursor cursor;	/* the last record printed (or to resume after) */
	int have_last;		/* cursor.seq means something */
	int checking;		/* START_CURSOR: the cursor's record not met yet */
	int dirty;		/* printed since the cursor was saved */
	int failed;		/* EX_* code to stop with, or 0 */
	const char *path;
	audit_syslog *syslog;	/* --syslog-to: events go there, not to stdout */
	char *membuf;		/* the event export just wrote (open_memstream) */
	size_t memlen;
} tailer;

/* on_signal - stop between two records */
static void on_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* record_seq - the seq of a record line, 0 if it has none; its ts into ts */
static unsigned long long record_seq(tailer *t, const char *line, size_t len, char ts[40])
{
	json_object *rec, *v;
	unsigned long long seq = 0;

	ts[0] = '\0';
	json_tokener_reset(t->tok);
	rec = json_tokener_parse_ex(t->tok, line, (int)len);
	if (rec && json_object_is_type(rec, json_type_object)
	    && json_object_object_get_ex(rec, "seq", &v) && json_object_is_type(v, json_type_int)
	    && json_object_get_int64(v) > 0)
		seq = (unsigned long long)json_object_get_int64(v);
	if (seq && json_object_object_get_ex(rec, "ts", &v) && json_object_is_type(v, json_type_string)
	    && json_object_get_string_len(v) < 40)
		memcpy(ts, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	json_object_put(rec);
	return seq;
}

/* save - flush the output, then record how far it got */
static int save(tailer *t)
{
	char *err = NULL;

	if (fflush(t->out) != 0 || ferror(t->out)) {
		fprintf(stderr, "postern-audit: tail: write error\n");
		t->failed = EX_IOERR;
		return -1;
	}
	if (t->cursor_path && t->dirty && audit_cursor_save(t->cursor_path, &t->cursor, &err) < 0) {
		fprintf(stderr, "postern-audit: tail: %s\n", err);
		pn_free(err);
		t->failed = EX_IOERR;
		return -1;
	}
	t->dirty = 0;
	return 0;
}

/* handle - one complete line: print it unless already printed or before the start */
static void handle(tailer *t, const char *line, size_t len, const char *where)
{
	char ts[40], hash[65], *err = NULL;
	unsigned long long seq = record_seq(t, line, len, ts);
	unsigned char d[PN_SHA256_LEN];

	if (seq == 0) {
		fprintf(stderr, "postern-audit: tail: %s: a line without a record seq, skipped\n",
			where);
		return;
	}
	if (t->have_last && seq <= t->cursor.seq) {
		if (t->checking && seq == t->cursor.seq) {
			pn_sha256_once(line, len, d);
			pn_hex(d, sizeof(d), hash);
			if (strcmp(hash, t->cursor.hash) != 0) {
				fprintf(stderr, "postern-audit: tail: record %llu in %s is not the one "
					"cursor %s names: the cursor belongs to another trail\n", seq,
					where, t->cursor_path);
				t->failed = EX_DATAERR;
				return;
			}
			t->checking = 0;
		}
		return;
	}
	if (t->have_last && seq != t->cursor.seq + 1)
		fprintf(stderr, "postern-audit: tail: records %llu to %llu are not in the trail "
			"(removed or never written)\n", t->cursor.seq + 1, seq - 1);
	t->checking = 0;
	if (audit_export_line(t->x, line, len) < 0)
		fprintf(stderr, "postern-audit: tail: %s: record %llu is not JSON, skipped\n", where,
			seq);
	if (t->syslog) {
		fflush(t->out);
		if (t->memlen > 0) {
			size_t n = t->memlen - (t->membuf[t->memlen - 1] == '\n');
			if (audit_syslog_send(t->syslog, ts, t->membuf, n, &err) < 0) {
				/* not sent: the cursor stays on the record before */
				fprintf(stderr, "postern-audit: tail: %s\n", err);
				pn_free(err);
				t->failed = EX_IOERR;
				return;
			}
			rewind(t->out);
		}
	}	pn_sha256_once(line, len, d);
	pn_hex(d, sizeof(d), t->cursor.hash);
	t->cursor.seq = seq;
	t->have_last = 1;
	t->dirty = 1;
}

/* follower_open - open path to follow it from its start; -1 if it is not there */
static int follower_open(follower *f, const char *path)
{
	struct stat st;

	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(f->fd, &st) < 0) {
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = 0;
	pn_buf_init(&f->partial, AUDIT_LINE_MAX);
	return 0;
}

/* follower_close - drop the file; report a line the writer left unfinished */
static void follower_close(follower *f, const char *path, int finished)
{
	if (f->fd < 0)
		return;
	if (finished && pn_buf_len(&f->partial))
		fprintf(stderr, "postern-audit: tail: %s: last record cut short, skipped\n", path);
	close(f->fd);
	pn_buf_free(&f->partial);
	f->fd = -1;
}

/* drain - every complete line now in the file; returns lines handled, -1 on error */
static long drain(tailer *t, follower *f, const char *path)
{
	static char chunk[CHUNK];
	struct stat st;
	long lines = 0;
	ssize_t n;

	if (f->fd < 0)
		return 0;
	if (fstat(f->fd, &st) == 0 && st.st_size < f->off) {
		/* copytruncate: the file was emptied in place; read it again */
		fprintf(stderr, "postern-audit: tail: %s was truncated, reading it from its start\n",
			path);
		lseek(f->fd, 0, SEEK_SET);
		f->off = 0;
		pn_buf_reset(&f->partial);
	}
	while (!t->failed && !stop_asked) {
		char *p, *nl;

		n = read(f->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "postern-audit: tail: %s: %s\n", path, strerror(errno));
			t->failed = EX_IOERR;
			return -1;
		}
		if (n == 0)
			break;
		f->off += n;
		for (p = chunk; p < chunk + n && !t->failed; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(chunk + n - p))) == NULL) {
				if (pn_buf_append(&f->partial, p, (size_t)(chunk + n - p)) < 0) {
					fprintf(stderr, "postern-audit: tail: %s: line too long\n", path);
					t->failed = EX_DATAERR;
				}
				break;
			}
			if (f->skip_first) {
				f->skip_first = 0;
				pn_buf_reset(&f->partial);
				continue;
			}
			if (pn_buf_len(&f->partial)) {
				pn_buf_append(&f->partial, p, (size_t)(nl - p));
				handle(t, pn_buf_str(&f->partial), pn_buf_len(&f->partial), path);
				pn_buf_reset(&f->partial);
			} else {
				handle(t, p, (size_t)(nl - p), path);
			}
			lines++;
			/* A stop request is honoured between records, with the cursor
			 * naming exactly the last one printed. */
			if (stop_asked)
				break;
		}
		if (t->dirty && save(t) < 0)
			return -1;
	}
	return lines;
}

/* read_rotated - every record of a finished (maybe compressed) file, opened as fd */
static void read_rotated(tailer *t, int fd, const char *name)
{
	char proc[64], *err = NULL;
	audit_reader *r;
	const char *line;
	size_t len;
	int complete, got;

	snprintf(proc, sizeof(proc), "/dev/fd/%d", fd);
	if ((r = audit_reader_open(proc, &err)) == NULL) {
		fprintf(stderr, "postern-audit: tail: %s: %s\n", name, err);
		pn_free(err);
		t->failed = EX_NOINPUT;
		return;
	}
	while (!t->failed && !stop_asked && (got = audit_reader_line(r, &line, &len, &complete)) == 1) {
		if (!complete) {
			fprintf(stderr, "postern-audit: tail: %s: last record cut short, skipped\n",
				name);
			break;
		}
		handle(t, line, len, name);
	}
	if (audit_reader_close(r, &err) < 0) {
		fprintf(stderr, "postern-audit: tail: %s: %s\n", name, err);
		pn_free(err);
	}
	if (!t->failed)
		save(t);
}

/* moved - does path now name a file other than f's? (1 yes, 0 no or not there yet) */
static int moved(const follower *f, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	return st.st_dev != f->dev || st.st_ino != f->ino;
}

/* pause_a_little - wait for the writer; a signal cuts it short */
static void pause_a_little(void)
{
	struct timespec ts = {0, POLL_NS};

	nanosleep(&ts, NULL);
}

/* follow - the current file, then each file that replaces it */
static void follow(tailer *t, follower *cur, int keep_following)
{
	follower old = {.fd = -1};
	long got;

	for (;;) {
		if (old.fd >= 0 && drain(t, &old, t->path) < 0)
			break;
		if (cur->fd < 0)
			follower_open(cur, t->path);	/* the trail may have appeared */
		if ((got = drain(t, cur, t->path)) < 0)
			break;
		if (got > 0 && old.fd >= 0)
			follower_close(&old, t->path, 1);	/* the writer has moved on */
		if (t->failed || stop_asked || !keep_following)
			break;
		if (got > 0)
			continue;
		if (cur->fd >= 0 && moved(cur, t->path)) {
			/* Rotated: finish the old file, keep it until the new one speaks. */
			if (drain(t, cur, t->path) < 0)
				break;
			follower_close(&old, t->path, 1);
			old = *cur;
			cur->fd = -1;
			continue;
		}
		pause_a_little();
	}
	follower_close(&old, t->path, 0);
}

/* usage - the synopsis */
static int usage(void)
{
	fprintf(stderr, "usage: postern-audit tail [--follow] [--from-seq N | --cursor FILE] "
		"[--format jsonl|ecs|ocsf|cim] [--syslog-to udp:H:P|tcp:H:P|unix:PATH] "
		"[FILE]\n");
	return EX_USAGE;
}

/* parse_seq - a positive decimal seq */
static int parse_seq(const char *s, unsigned long long *seq)
{
	char *end;

	if (*s < '1' || *s > '9')
		return -1;
	errno = 0;
	*seq = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* audit_tool_tail - `postern-audit tail` */
int audit_tool_tail(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'}, {"from-seq", required_argument, NULL, 's'},
		{"cursor", required_argument, NULL, 'c'}, {"format", required_argument, NULL, 'F'},
		{"syslog-to", required_argument, NULL, 'S'}, {NULL, 0, NULL, 0}
	};
	const char *syslog_to = NULL, *fmt_name = "jsonl";
	const audit_state *st = state;
	tailer t;
	follower cur = {.fd = -1};
	audit_format fmt = AUDIT_FMT_JSONL;
	audit_filter none;
	unsigned long long from_seq = 0;
	int ch, keep_following = 0, have_seq = 0, found, *fds = NULL;
	size_t nfiles = 0, i;
	char **files = NULL, *err = NULL;
	struct sigaction sa;

	(void)cfg;
	memset(&t, 0, sizeof(t));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			keep_following = 1;
			break;
		case 's':
			if (parse_seq(optarg, &from_seq) < 0) {
				fprintf(stderr, "postern-audit: tail: --from-seq wants a seq (1 or "
					"more)\n");
				return EX_USAGE;
			}
			have_seq = 1;
			break;
		case 'c':
			t.cursor_path = optarg;
			break;
		case 'S':
			syslog_to = optarg;
			break;
		case 'F':
			fmt_name = optarg;
			if (strcmp(optarg, "jsonl") == 0)
				fmt = AUDIT_FMT_JSONL;
			else if (audit_siem_format_parse(optarg, &fmt) < 0) {
				fprintf(stderr, "postern-audit: tail: --format must be jsonl, ecs, ocsf "
					"or cim (one record per line)\n");
				return EX_USAGE;
			}
			break;
		default:
			return usage();
		}
	}
	if ((have_seq && t.cursor_path) || argc - optind > 1)
		return usage();
	t.path = optind < argc ? argv[optind] : st->trail_file;
	if (t.path[0] == '\0') {
		fprintf(stderr, "postern-audit: tail: no FILE given and no trail_file configured\n");
		return EX_USAGE;
	}
	/* Where to start: after the cursor's record, at a seq, at the first
	 * record, or (following without either) at the end. */
	if (t.cursor_path) {
		if (audit_cursor_load(t.cursor_path, &t.cursor, &found, &err) < 0) {
			fprintf(stderr, "postern-audit: tail: %s\n", err);
			pn_free(err);
			return EX_DATAERR;
		}
		t.mode = found ? START_CURSOR : START_FIRST;
		t.have_last = t.checking = found;
	} else if (have_seq) {
		t.mode = START_SEQ;
		t.cursor.seq = from_seq - 1;
		t.have_last = from_seq > 1;
	} else {
		t.mode = keep_following ? START_END : START_FIRST;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: a signal ends the pause */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	t.out = stdout;
	if (syslog_to) {
		if ((t.syslog = audit_syslog_open(syslog_to, fmt_name, &err)) == NULL) {
			fprintf(stderr, "postern-audit: tail: %s\n", err);
			pn_free(err);
			return EX_UNAVAILABLE;
		}
		if ((t.out = open_memstream(&t.membuf, &t.memlen)) == NULL) {
			perror("postern-audit: tail: open_memstream");
			audit_syslog_close(t.syslog);
			return EX_OSERR;
		}
	}
	t.tok = json_tokener_new();
	audit_filter_init(&none);
	t.x = audit_export_new(&none, fmt, t.out);

	/* Open every file at once, so a rotation while the older ones are read
	 * cannot make a file slip past. The current file is followed. */
	if (t.mode == START_END) {
		if (follower_open(&cur, t.path) == 0 && (cur.off = lseek(cur.fd, 0, SEEK_END)) > 0) {
			/* a line being written at this moment is not ours to print */
			char last;
			cur.skip_first = pread(cur.fd, &last, 1, cur.off - 1) == 1 && last != '\n';
		}
	} else {
		files = audit_trail_files(t.path);
		while (files[nfiles])
			nfiles++;
		fds = pn_calloc(nfiles + 1, sizeof(int));
		for (i = 0; i < nfiles; i++) {
			if (i == nfiles - 1 && strcmp(files[i], t.path) == 0) {
				fds[i] = -1;
				if (follower_open(&cur, t.path) < 0)
					cur.fd = -1;
			} else if ((fds[i] = open(files[i], O_RDONLY | O_CLOEXEC)) < 0) {
				fprintf(stderr, "postern-audit: tail: cannot open %s: %s\n", files[i],
					strerror(errno));
			}
		}
		for (i = 0; i < nfiles; i++) {
			if (fds[i] < 0)
				continue;
			if (!t.failed && !stop_asked)
				read_rotated(&t, fds[i], files[i]);
			close(fds[i]);
		}
	}
	if (!t.failed && !stop_asked) {
		if (cur.fd < 0 && !keep_following && nfiles == 0) {
			fprintf(stderr, "postern-audit: tail: no trail files at %s\n", t.path);
			t.failed = EX_NOINPUT;
		} else {
			follow(&t, &cur, keep_following);
		}
	}
	follower_close(&cur, t.path, 0);
	if (!t.failed && t.checking)
		fprintf(stderr, "postern-audit: tail: the record cursor %s names (seq %llu) is not "
			"in the trail any more\n", t.cursor_path, t.cursor.seq);
	if (!t.failed)
		save(&t);
	if (audit_export_finish(t.x) < 0 && !t.failed)
		t.failed = EX_IOERR;
	json_tokener_free(t.tok);
	audit_filter_free(&none);
	for (i = 0; files && files[i]; i++)
		pn_free(files[i]);
	pn_free(files);
	pn_free(fds);
	if (t.syslog) {
		audit_syslog_close(t.syslog);
		fclose(t.out);
		free(t.membuf);
	}
	return t.failed;
}
