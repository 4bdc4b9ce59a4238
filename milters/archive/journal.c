/* SPDX-License-Identifier: BSD-2-Clause */
/* journal - append-only day files of JSON records (see journal.h) */
#include "milters/archive/journal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/metrics.h"
#include "common/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)256 * 1024)

struct arc_journal {
	char *dir;
	int dirfd;	/* every day file is opened in it, never through a link */
	char *host;			/* "" for the single-host layout */
	arc_owner owner;
	long lock_ms;
	/* group commit: one fdatasync makes every append written before it
	 * durable, so concurrent appenders share it */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_done;
	unsigned long long written;	/* appends whose write(2) returned */
	unsigned long long synced;	/* appends made durable by the last sync */
	dev_t synced_dev;
	ino_t synced_ino;		/* ...in this day file */
	int syncing;
	/* the day file whose last line this process has checked (a crash
	 * may cut one; checked once per file, under the exclusive lock) */
	dev_t checked_dev;
	ino_t checked_ino;
};

/* arc_journal_host_ok - a host name usable as one path component */
int arc_journal_host_ok(const char *host)
{
	size_t n = strlen(host);

	if (n == 0 || n > 253 || host[0] == '.' || host[0] == '-')
		return 0;
	for (const char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '.' || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

/* arc_journal_open - the journal directory under dir */
arc_journal *arc_journal_open(const char *dir, const arc_owner *o, long lock_ms, char **err)
{
	return arc_journal_open_host(dir, "", o, lock_ms, err);
}

/* arc_journal_open_host - one host's journal directory under dir */
arc_journal *arc_journal_open_host(const char *dir, const char *host, const arc_owner *o,
				   long lock_ms, char **err)
{
	arc_journal *j;
	struct stat st;
	char *top;

	if (host == NULL)
		host = "";
	if (*host && !arc_journal_host_ok(host)) {
		*err = pn_asprintf("host name \"%s\" cannot name a journal directory", host);
		return NULL;
	}
	j = pn_calloc(1, sizeof(*j));
	j->host = pn_strdup(host);
	top = pn_asprintf("%s/journal", dir);
	j->dir = *host ? pn_asprintf("%s/%s", top, host) : pn_strdup(top);
	if (o)
		j->owner = *o;
	j->lock_ms = lock_ms;
	j->dirfd = -1;
	pthread_mutex_init(&j->sync_lock, NULL);
	pthread_cond_init(&j->sync_done, NULL);
	if ((arc_mkdir(top, 0750, &j->owner) < 0 && stat(top, &st) < 0)
	    || (arc_mkdir(j->dir, 0750, &j->owner) < 0 && stat(j->dir, &st) < 0)) {
		*err = pn_asprintf("cannot create %s: %s", j->dir, strerror(errno));
		pn_free(top);
		arc_journal_close(j);
		return NULL;
	}
	pn_free(top);
	/* "journal" itself may have been replaced by a link to elsewhere */
	if ((j->dirfd = pn_safe_opendir(AT_FDCWD, j->dir, arc_owner_uid(&j->owner))) < 0) {
		*err = pn_asprintf("cannot open %s: %s", j->dir, strerror(errno));
		arc_journal_close(j);
		return NULL;
	}
	return j;
}

/* arc_journal_close - release the handle */
void arc_journal_close(arc_journal *j)
{
	if (j == NULL)
		return;
	if (j->dirfd >= 0)
		close(j->dirfd);
	pthread_cond_destroy(&j->sync_done);
	pthread_mutex_destroy(&j->sync_lock);
	pn_free(j->dir);
	pn_free(j->host);
	pn_free(j);
}

/* arc_journal_host - whose journal this is */
const char *arc_journal_host(const arc_journal *j)
{
	return j->host;
}

/* arc_journal_dir - where the day files are */
const char *arc_journal_dir(const arc_journal *j)
{
	return j->dir;
}

/* arc_journal_file_for - the day file name of a time */
char *arc_journal_file_for(long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	return pn_asprintf("%04d-%02d-%02d.jsonl", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* record_time - the time that decides a record's day file */
static long long record_time(const arc_record *r)
{
	switch (r->type) {
	case ARC_REC_OBJECT:
		return r->object.time;
	case ARC_REC_DELIVERY:
		return r->delivery->time;
	default:
		return r->time;
	}
}

/* flock_wait - flock with a timeout */
static int flock_wait(int fd, int op, long ms)
{
	struct timespec nap = {0, 2 * 1000 * 1000};
	long waited = 0;

	for (;;) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (waited >= ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&nap, NULL);
		waited += 2;
	}
}

/* open_day - open a day file for appending, locked shared, current inode */
static int open_day(arc_journal *j, const char *name, int *created)
{
	int tries;

	for (tries = 0; tries < 100; tries++) {
		struct stat a, b;
		/* read too: the last byte tells whether a crash cut a line */
		int fd = arc_open_in(j->dirfd, name, O_RDWR | O_APPEND | O_CREAT, 0640, &j->owner,
				     NULL);
		if (fd < 0)
			return -1;
		if (flock_wait(fd, LOCK_SH, j->lock_ms) < 0 || fstat(fd, &a) < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (fstatat(j->dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino
		    && a.st_dev == b.st_dev) {
			*created = a.st_size == 0;
			return fd;
		}
		close(fd);	/* replaced by a rewrite meanwhile: open the new one */
	}
	errno = EAGAIN;
	return -1;
}

/* group_sync - make this thread's append durable, sharing one fdatasync
 * with the appends written meanwhile to the same day file */
static int group_sync(arc_journal *j, int fd)
{
	unsigned long long mine, upto;
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0)
		return -1;
	pthread_mutex_lock(&j->sync_lock);
	mine = ++j->written;	/* the write has returned: a sync from now on covers it */
	for (;;) {
		if (j->synced >= mine && j->synced_dev == st.st_dev && j->synced_ino == st.st_ino) {
			pthread_mutex_unlock(&j->sync_lock);
			return 0;
		}
		if (!j->syncing)
			break;
		pthread_cond_wait(&j->sync_done, &j->sync_lock);
	}
	j->syncing = 1;
	upto = j->written;
	pthread_mutex_unlock(&j->sync_lock);
	rc = pn_metric_fdatasync(PN_MF_ARCHIVE_JOURNAL, fd);
	pthread_mutex_lock(&j->sync_lock);
	j->syncing = 0;
	if (rc == 0) {
		j->synced = upto;
		j->synced_dev = st.st_dev;
		j->synced_ino = st.st_ino;
	}
	pthread_cond_broadcast(&j->sync_done);
	pthread_mutex_unlock(&j->sync_lock);
	return rc;
}

/* end_cut_line - never glue a record to a line a crash cut: the first
 * time this process appends to a day file, look at its last byte under the
 * exclusive lock (no append of another thread or process is then half
 * written, which a look under the shared lock could mistake for a cut
 * line, adding an empty one) and end an unfinished line */
static int end_cut_line(arc_journal *j, int fd)
{
	struct stat st;
	char last = '\n';
	int seen, rc = 0;

	if (fstat(fd, &st) < 0)
		return -1;
	pthread_mutex_lock(&j->sync_lock);
	seen = j->checked_dev == st.st_dev && j->checked_ino == st.st_ino;
	pthread_mutex_unlock(&j->sync_lock);
	if (seen)
		return 0;
	if (flock_wait(fd, LOCK_EX, j->lock_ms) < 0)
		return -1;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1
	    && last != '\n')
		rc = arc_write_all(fd, "\n", 1);
	if (flock_wait(fd, LOCK_SH, j->lock_ms) < 0)
		return -1;
	if (rc == 0) {
		pthread_mutex_lock(&j->sync_lock);
		j->checked_dev = st.st_dev;
		j->checked_ino = st.st_ino;
		pthread_mutex_unlock(&j->sync_lock);
	}
	return rc;
}

/* arc_journal_append - records as lines, one write, synced */
int arc_journal_append(arc_journal *j, const arc_record *recs, size_t n, char **err)
{
	char *name, *path;
	pn_buf b;
	size_t i;
	int fd, created = 0, rc = -1;

	*err = NULL;
	if (n == 0)
		return 0;
	name = arc_journal_file_for(record_time(&recs[0]));
	path = pn_asprintf("%s/%s", j->dir, name);
	pn_buf_init(&b, ARC_JOURNAL_LINE_MAX);
	for (i = 0; i < n; i++) {
		char *line = arc_record_json(&recs[i]);
		int bad = pn_buf_puts(&b, line) < 0 || pn_buf_putc(&b, '\n') < 0;
		pn_free(line);
		if (bad) {
			*err = pn_strdup("journal record too long");
			goto done;
		}
	}
	if ((fd = open_day(j, name, &created)) < 0) {
		*err = pn_asprintf("cannot open %s: %s", path, strerror(errno));
		goto done;
	}
	if (!created && end_cut_line(j, fd) < 0) {
		*err = pn_asprintf("cannot write %s: %s", path, strerror(errno));
		close(fd);
		goto done;
	}
	if (arc_write_all(fd, pn_buf_str(&b), pn_buf_len(&b)) < 0 || group_sync(j, fd) < 0) {
		*err = pn_asprintf("cannot write %s: %s", path, strerror(errno));
		close(fd);
		goto done;
	}
	close(fd);
	if (created && fsync(j->dirfd) < 0) {
		*err = pn_asprintf("cannot fsync %s: %s", j->dir, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	pn_buf_free(&b);
	pn_free(path);
	pn_free(name);
	return rc;
}

/* is_day_file - "YYYY-MM-DD.jsonl" */
static int is_day_file(const char *n)
{
	static const char pat[] = "dddd-dd-dd.jsonl";
	size_t i;

	if (strlen(n) != sizeof(pat) - 1)
		return 0;
	for (i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'd' ? (n[i] < '0' || n[i] > '9') : n[i] != pat[i])
			return 0;
	}
	return 1;
}

/* cmp_str - qsort order of strings */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* arc_journal_files - day files in date order */
int arc_journal_files(const arc_journal *j, char ***names, size_t *n)
{
	int fd = dup(j->dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);	/* the duplicate shares its offset with j->dirfd */
	while ((e = readdir(d)) != NULL) {
		if (!is_day_file(e->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*names = pn_realloc(*names, cap * sizeof(char *));
		}
		(*names)[(*n)++] = pn_strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(char *), cmp_str);
	return 0;
}

/* arc_journal_files_free - release a list from arc_journal_files */
void arc_journal_files_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pn_free(names[i]);
	pn_free(names);
}

/* arc_journal_read - complete lines from an offset, parsed */
int arc_journal_read(const arc_journal *j, const char *name, long long from, arc_journal_fn fn,
		     void *ctx, arc_journal_pos *end)
{
	char *chunk;
	int fd = arc_open_in(j->dirfd, name, O_RDONLY, 0, &j->owner, NULL), stop = 0,
	    skipping = 0;
	struct stat st;
	pn_buf line;
	long long pos = from;
	ssize_t n;

	memset(end, 0, sizeof(*end));
	end->offset = from;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0)
		end->ino = (unsigned long long)st.st_ino;
	if (from > 0 && lseek(fd, from, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	pn_buf_init(&line, ARC_JOURNAL_LINE_MAX);
	chunk = pn_malloc(READ_CHUNK);
	while (!stop && ((n = read(fd, chunk, READ_CHUNK)) > 0 || (n < 0 && errno == EINTR))) {
		const char *p = chunk, *e = chunk + (n > 0 ? n : 0);
		while (p < e && !stop) {
			const char *lf = memchr(p, '\n', (size_t)(e - p));
			size_t k = lf ? (size_t)(lf - p) : (size_t)(e - p);
			if (!skipping && pn_buf_append(&line, p, k) < 0)
				skipping = 1;	/* absurdly long: count it as bad */
			pos += (long long)k;
			if (lf == NULL)
				break;
			pos++;
			p = lf + 1;
			if (skipping) {
				end->bad++;
			} else if (pn_buf_len(&line) > 0) {
				arc_record r;
				int ok = arc_record_parse(pn_buf_str(&line), pn_buf_len(&line), &r) == 0;
				if (!ok)
					end->bad++;
				if (fn && fn(ctx, ok ? &r : NULL, pn_buf_str(&line), pn_buf_len(&line)) < 0)
					stop = 1;
				if (ok)
					arc_record_clear(&r);
			}
			skipping = 0;
			pn_buf_reset(&line);
			if (!stop)
				end->offset = pos;
		}
	}
	pn_free(chunk);
	pn_buf_free(&line);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* repair_one - cut a day file after its last newline, if it does not end in one */
static int repair_one(arc_journal *j, const char *name)
{
	char buf[4096];
	int fd = arc_open_in(j->dirfd, name, O_RDWR, 0, &j->owner, NULL), rc = 0;
	struct stat st;
	off_t end;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_size == 0 || pread(fd, buf, 1, st.st_size - 1) != 1
	    || buf[0] == '\n' || flock_wait(fd, LOCK_EX, j->lock_ms) < 0
	    || fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	for (end = st.st_size; end > 0; ) {
		size_t k = end > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)end;
		char *nl;
		if (pread(fd, buf, k, end - (off_t)k) != (ssize_t)k)
			break;
		nl = memrchr(buf, '\n', k);
		if (nl) {
			end = end - (off_t)k + (nl - buf) + 1;
			break;
		}
		end -= (off_t)k;
	}
	if (end < st.st_size && ftruncate(fd, end) == 0 && fsync(fd) == 0)
		rc = 1;
	close(fd);
	return rc;
}

/* arc_journal_repair - remove lines a crash left unfinished */
int arc_journal_repair(arc_journal *j, size_t *cut)
{
	char **names;
	size_t n, i;

	*cut = 0;
	if (arc_journal_files(j, &names, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		*cut += (size_t)repair_one(j, names[i]);
	arc_journal_files_free(names, n);
	return 0;
}

typedef struct rewrite_ctx {
	arc_keep_fn keep;
	void *ctx;
	int fd;
	size_t dropped;
	int err;
} rewrite_ctx;

/* rewrite_line - copy a line unless keep() refuses its record */
static int rewrite_line(void *ctx, const arc_record *r, const char *line, size_t len)
{
	rewrite_ctx *w = ctx;

	if (r && !w->keep(w->ctx, r)) {
		w->dropped++;
		return 0;
	}
	if (arc_write_all(w->fd, line, len) < 0 || arc_write_all(w->fd, "\n", 1) < 0) {
		w->err = errno;
		return -1;
	}
	return 0;
}

/* arc_journal_rewrite - replace a day file by the lines keep() accepts */
int arc_journal_rewrite(arc_journal *j, const char *name, arc_keep_fn keep, void *ctx,
			size_t *dropped, char **err)
{
	char *path = pn_asprintf("%s/%s", j->dir, name);
	char *tmp_name = pn_asprintf(".%s.tmp", name);
	char *tmp = pn_asprintf("%s/%s", j->dir, tmp_name);
	rewrite_ctx w = {keep, ctx, -1, 0, 0};
	arc_journal_pos end;
	int lock = -1, rc = -1, created_tmp = 0;
	struct stat st;

	*err = NULL;
	*dropped = 0;
	if ((lock = arc_open_in(j->dirfd, name, O_RDONLY, 0, &j->owner, NULL)) < 0) {
		*err = pn_asprintf("cannot open %s: %s", path, strerror(errno));
		goto done;
	}
	if (flock_wait(lock, LOCK_EX, j->lock_ms) < 0) {
		*err = pn_asprintf("cannot lock %s: %s", path, strerror(errno));
		goto done;
	}
	/* whatever has the temporary name goes (a link is removed, never its
	 * target), the new file is created exclusively and, when root makes
	 * it, given to the owner of the day file it replaces (checked above) */
	if (fstat(lock, &st) < 0) {
		*err = pn_asprintf("cannot stat %s: %s", path, strerror(errno));
		goto done;
	}
	w.fd = pn_safe_create_tmp(j->dirfd, tmp_name, O_WRONLY, 0640, st.st_uid, st.st_gid);
	if (w.fd < 0) {
		*err = pn_asprintf("cannot create %s: %s", tmp, strerror(errno));
		goto done;
	}
	created_tmp = 1;
	if (arc_journal_read(j, name, 0, rewrite_line, &w, &end) < 0 || w.err) {
		*err = pn_asprintf("cannot rewrite %s: %s", path, strerror(w.err ? w.err : errno));
		goto done;
	}
	if (w.dropped == 0) {
		rc = 0;		/* nothing to remove: leave the file alone */
		goto done;
	}
	if (fstat(lock, &st) == 0 && end.offset < (long long)st.st_size) {
		/* keep an unfinished last line as it is */
		char *rest = pn_malloc((size_t)(st.st_size - end.offset));
		ssize_t k = pread(lock, rest, (size_t)(st.st_size - end.offset), end.offset);
		if (k > 0 && arc_write_all(w.fd, rest, (size_t)k) < 0)
			w.err = errno;
		pn_free(rest);
	}
	if (w.err || fsync(w.fd) < 0 || close(w.fd) < 0) {
		*err = pn_asprintf("cannot write %s: %s", tmp, strerror(w.err ? w.err : errno));
		w.fd = -1;
		goto done;
	}
	w.fd = -1;
	if (pn_safe_rename(j->dirfd, tmp_name, name) < 0 || fsync(j->dirfd) < 0) {
		*err = pn_asprintf("cannot replace %s: %s", path, strerror(errno));
		goto done;
	}
	*dropped = w.dropped;
	rc = 0;
done:
	if (w.fd >= 0)
		close(w.fd);
	if (created_tmp && (rc < 0 || *dropped == 0))
		pn_safe_unlink(j->dirfd, tmp_name);
	if (lock >= 0)
		close(lock);
	pn_free(tmp);
	pn_free(tmp_name);
	pn_free(path);
	return rc;
}
