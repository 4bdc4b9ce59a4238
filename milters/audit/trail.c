/* SPDX-License-Identifier: BSD-2-Clause */
/* trail - process-wide append-only trail with its chain state (see trail.h) */
#include "milters/audit/trail.h"
#include "milters/audit/reader.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"

#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* How far back recovery looks for a valid record in a damaged file. */
#define TAIL_FIRST ((off_t)1024 * 1024)
#define TAIL_MAX ((off_t)64 * 1024 * 1024)

struct audit_trail {
	char *path;
	int refs;
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t synced_cv;
	int fd;
	int reopen;
	audit_trail_opts o;	/* strings owned */
	char *head_path;	/* NULL: no head file (no trail file) */
	int started;		/* identity and head known */
	audit_headfile hf;	/* identity, head, file position, sealing state */
	int sealed;
	audit_seal seal;
	int rekey;		/* reload: read key_file again */
	int need_newline;	/* the file ends in a record cut short */
	/* group commit */
	unsigned long long written, synced, failed_upto;
	int syncing;
	time_t last_sync, last_head_write, last_head_fsync;
	int dirty;		/* written since the last fdatasync */
	audit_trail *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static audit_trail *registry;

/* set_opts - copy options into the trail (strings duplicated) */
static void set_opts(audit_trail *t, const audit_trail_opts *o)
{
	pn_free((char *)t->o.host);
	pn_free((char *)t->o.key_file);
	pn_free((char *)t->o.head_file);
	t->o = *o;
	t->o.host = pn_strdup(o->host ? o->host : "");
	t->o.key_file = pn_strdup(o->key_file ? o->key_file : "");
	t->o.head_file = pn_strdup(o->head_file ? o->head_file : "");
}

/* audit_trail_opts_init - defaults: no key, durable, no head file override */
void audit_trail_opts_init(audit_trail_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = 0640;
	o->sync = AUDIT_SYNC_ALWAYS;
	o->interval = 1;
	o->key_uid = -1;
	o->epoch_records = 1000;
	o->epoch_seconds = 900;
}

/* audit_trail_head_path - head_file, or the hidden .BASE.head beside path */
char *audit_trail_head_path(const char *path, const char *head_file)
{
	const char *slash = strrchr(path, '/');

	if (head_file && head_file[0])
		return pn_strdup(head_file);
	if (slash == NULL)
		return pn_asprintf(".%s.head", path);
	/* Hidden, so that "ls audit.jsonl*" lists trail files only. */
	return pn_asprintf("%.*s/.%s.head", (int)(slash - path), path, slash + 1);
}

/* audit_trail_open - the trail for path, shared by every snapshot */
audit_trail *audit_trail_open(const char *path, const audit_trail_opts *o)
{
	audit_trail *t;

	pthread_mutex_lock(&registry_lock);
	for (t = registry; t; t = t->next)
		if (strcmp(t->path, path) == 0)
			break;
	if (t) {
		t->refs++;
		pthread_mutex_lock(&t->lock);
		t->reopen = 1;
		t->rekey = 1;
		set_opts(t, o);
		pthread_mutex_unlock(&t->lock);
	} else {
		t = pn_calloc(1, sizeof(*t));
		t->path = pn_strdup(path);
		t->refs = 1;
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->synced_cv, NULL);
		t->fd = -1;
		set_opts(t, o);
		if (path[0])
			t->head_path = audit_trail_head_path(path, t->o.head_file);
		t->next = registry;
		registry = t;
	}
	pthread_mutex_unlock(&registry_lock);
	return t;
}

/* audit_trail_get - the trail for path with default sealing options */
audit_trail *audit_trail_get(const char *path, mode_t mode, audit_sync sync, long interval)
{
	audit_trail_opts o;

	audit_trail_opts_init(&o);
	o.mode = mode;
	o.sync = sync;
	o.interval = interval;
	return audit_trail_open(path, &o);
}

/* persist_head - write the head file now (lock held) */
static void persist_head(audit_trail *t, int durable)
{
	char *err = NULL;

	if (t->head_path == NULL || !t->started)
		return;
	if (audit_headfile_write(t->head_path, &t->hf, durable, &err) < 0) {
		pn_log(PN_LOG_ERROR, "trail %s: %s", t->path, err);
		pn_free(err);
	}
	t->last_head_write = time(NULL);
}

/* close_file - flush what the sync policy promised, then close */
static void close_file(audit_trail *t)
{
	if (t->fd < 0)
		return;
	if (t->dirty && t->o.sync != AUDIT_SYNC_NEVER
	    && pn_metric_fdatasync(PN_MF_AUDIT_TRAIL, t->fd) < 0)
		pn_log(PN_LOG_ERROR, "trail %s: fdatasync: %s", t->path, strerror(errno));
	close(t->fd);
	t->fd = -1;
	t->dirty = 0;
	persist_head(t, t->o.sync != AUDIT_SYNC_NEVER);
}

/* audit_trail_put - drop a reference; the last one closes the file */
void audit_trail_put(audit_trail *t)
{
	audit_trail **pp;
	int last;

	if (t == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	last = --t->refs == 0;
	if (last)
		for (pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
	pthread_mutex_unlock(&registry_lock);
	if (!last)
		return;
	pthread_mutex_lock(&t->lock);
	while (t->syncing)
		pthread_cond_wait(&t->synced_cv, &t->lock);
	close_file(t);
	pthread_mutex_unlock(&t->lock);
	audit_seal_wipe(&t->seal);
	pthread_cond_destroy(&t->synced_cv);
	pthread_mutex_destroy(&t->lock);
	pn_free((char *)t->o.host);
	pn_free((char *)t->o.key_file);
	pn_free((char *)t->o.head_file);
	pn_free(t->head_path);
	pn_free(t->path);
	pn_free(t);
}

/* last_valid_in - scan complete lines of buf backwards for a record */
static int last_valid_in(const char *buf, size_t len, int skip_first, audit_head *h,
			 unsigned *skipped)
{
	size_t end = len, start;
	const char *lo = buf;

	/* The first line of a window that starts mid-file may be partial. */
	if (skip_first) {
		const char *nl = memchr(buf, '\n', len);
		if (nl == NULL)
			return 0;
		lo = nl + 1;
	}
	*skipped = 0;
	while (end > (size_t)(lo - buf)) {
		audit_link l;
		char *err = NULL;

		start = end;
		while (start > (size_t)(lo - buf) && buf[start - 1] != '\n')
			start--;
		if (end > start && audit_chain_parse(buf + start, end - start, &l, &err) == 0) {
			h->seq = l.seq;
			memcpy(h->hash, l.hash, sizeof(h->hash));
			return 1;
		}
		pn_free(err);
		(*skipped)++;
		if (start == (size_t)(lo - buf))
			break;
		end = start - 1;	/* drop the newline that ends the previous line */
	}
	return 0;
}

/* head_from_tail - chain head from the end of an open, non-empty file */
static int head_from_tail(int fd, off_t size, const char *path, audit_head *h,
			  int *unterminated, char **err)
{
	off_t window = size < TAIL_FIRST ? size : TAIL_FIRST;
	char last;
	unsigned skipped;

	*unterminated = 0;
	if (pread(fd, &last, 1, size - 1) != 1) {
		*err = pn_asprintf("trail %s: read: %s", path, strerror(errno));
		return -1;
	}
	*unterminated = last != '\n';
	for (;;) {
		char *buf = pn_malloc((size_t)window);
		ssize_t n = pread(fd, buf, (size_t)window, size - window);
		size_t len;
		int found;

		if (n != (ssize_t)window) {
			pn_free(buf);
			*err = pn_asprintf("trail %s: read: %s", path,
					   n < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		len = (size_t)window;
		/* A record cut short by a crash has no newline: leave it out. */
		while (*unterminated && len > 0 && buf[len - 1] != '\n')
			len--;
		if (len > 0 && buf[len - 1] == '\n')
			len--;
		found = last_valid_in(buf, len, window < size, h, &skipped);
		pn_free(buf);
		if (found) {
			if (skipped || *unterminated)
				pn_log(PN_LOG_WARN, "trail %s: %u damaged line(s)%s at the end; the "
				       "chain continues from seq %llu (verify will report them)",
				       path, skipped, *unterminated ? " and a record cut short" : "",
				       h->seq);
			return 0;
		}
		if (window == size || window >= TAIL_MAX) {
			*err = pn_asprintf("trail %s: no valid audit record in its last %lld bytes: "
					   "not an audit trail, or damaged; move it away to start "
					   "a new file", path, (long long)window);
			return -1;
		}
		window = window * 4 > size ? size : window * 4;
	}
}

/* head_from_file - chain head from a whole file, compressed or not */
static int head_from_file(const char *path, audit_head *h, char **err)
{
	audit_reader *r = audit_reader_open(path, err);
	const char *line;
	size_t len;
	int complete, rc;

	if (r == NULL)
		return -1;
	audit_head_init(h);
	while ((rc = audit_reader_line(r, &line, &len, &complete)) == 1) {
		audit_link l;
		char *e = NULL;
		if (complete && audit_chain_parse(line, len, &l, &e) == 0) {
			h->seq = l.seq;
			memcpy(h->hash, l.hash, sizeof(h->hash));
		}
		pn_free(e);
	}
	if (rc < 0) {
		char *ignored = NULL;
		audit_reader_close(r, &ignored);
		pn_free(ignored);
		*err = pn_asprintf("trail %s: read error or over-long line", path);
		return -1;
	}
	return audit_reader_close(r, err);
}

/* rotated_name - does name look like a rotation of base? */
static int rotated_name(const char *name, const char *base)
{
	static const char *exts[] = {"", ".gz", ".xz", ".bz2", ".zst", NULL};
	size_t n = strlen(base), i, len;
	const char *rest;

	if (strncmp(name, base, n) != 0 || (name[n] != '.' && name[n] != '-') || name[n + 1] == '\0')
		return 0;
	rest = name + n;
	if (*rest == '-')
		return 1;	/* dateext: any suffix */
	rest++;
	len = strspn(rest, "0123456789");
	if (len == 0)
		return 0;
	for (i = 0; exts[i]; i++)
		if (strcmp(rest + len, exts[i]) == 0)
			return 1;
	return 0;
}

typedef struct rotated {
	char *path;
	struct timespec mtime;
} rotated;

/* older - qsort order: oldest first; for equal times, path.2 before path.1 */
static int older(const void *a, const void *b)
{
	const rotated *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return -strcmp(x->path, y->path);
}

/* audit_trail_files - rotations of path, oldest first, then path itself */
char **audit_trail_files(const char *path)
{
	char *dcopy = pn_strdup(path), *bcopy = pn_strdup(path);
	const char *dir = dirname(dcopy), *base = basename(bcopy);
	rotated *v = NULL;
	size_t n = 0, i;
	struct dirent *e;
	struct stat st;
	char **out;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)) != NULL) {
		char *full;
		if (!rotated_name(e->d_name, base))
			continue;
		full = pn_asprintf("%s/%s", dir, e->d_name);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			v = pn_realloc(v, (n + 1) * sizeof(*v));
			v[n].path = full;
			v[n].mtime = st.st_mtim;
			n++;
		} else {
			pn_free(full);
		}
	}
	if (d)
		closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), older);
	out = pn_calloc(n + 2, sizeof(char *));
	for (i = 0; i < n; i++)
		out[i] = v[i].path;
	if (stat(path, &st) == 0)
		out[n++] = pn_strdup(path);
	pn_free(v);
	pn_free(dcopy);
	pn_free(bcopy);
	return out;
}

/* audit_trail_newest_rotated - the most recently modified rotation of path */
char *audit_trail_newest_rotated(const char *path)
{
	char **files = audit_trail_files(path);
	char *best = NULL;
	size_t n = 0, i;

	while (files[n])
		n++;
	/* The current file, if present, is last: the newest rotation precedes it. */
	if (n > 0 && strcmp(files[n - 1], path) == 0)
		n--;
	if (n > 0)
		best = pn_strdup(files[n - 1]);
	for (i = 0; files[i]; i++)
		pn_free(files[i]);
	pn_free(files);
	return best;
}

/* head_for_empty - head when the current file is empty or missing */
static int head_for_empty(const char *path, audit_head *h, char **where, char **err)
{
	char *rotated = audit_trail_newest_rotated(path);
	int rc = 0;

	audit_head_init(h);
	if (rotated) {
		rc = head_from_file(rotated, h, err);
		if (rc == 0 && h->seq > 0)
			pn_log(PN_LOG_INFO, "trail %s: continuing the chain of %s at seq %llu", path,
			       rotated, h->seq + 1);
	}
	if (where)
		*where = rotated;
	else
		pn_free(rotated);
	return rc;
}

/* audit_trail_head - the current head of the trail at path (checkpoint) */
int audit_trail_head(const char *path, audit_head *head, char **where, char **err)
{
	struct stat st;
	int fd, rc, unterminated;

	*err = NULL;
	*where = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno != ENOENT) {
		*err = pn_asprintf("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd < 0 || (fstat(fd, &st) == 0 && st.st_size == 0)) {
		if (fd >= 0)
			close(fd);
		return head_for_empty(path, head, where, err);
	}
	rc = head_from_tail(fd, st.st_size, path, head, &unterminated, err);
	close(fd);
	if (rc == 0)
		*where = pn_strdup(path);
	return rc;
}

/* ensure_open - the file at path is open (again, after rotation or SIGHUP) */
static int ensure_open(audit_trail *t, char **err)
{
	struct stat a;

	if (t->fd >= 0 && !t->reopen && lstat(t->path, &a) == 0 && a.st_dev == (dev_t)t->hf.dev
	    && a.st_ino == (ino_t)t->hf.ino)
		return 0;
	close_file(t);
	t->reopen = 0;
	/* O_NOFOLLOW: the trail's directory may be writable by others than root. */
	if ((t->fd = open(t->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  t->o.mode)) < 0) {
		*err = pn_asprintf("trail %s: cannot open: %s", t->path, errno == ELOOP
				   ? "is a symbolic link (refused)" : strerror(errno));
		return -1;
	}
	return 0;
}

/* now_rfc3339 - the current time as records write it */
static void now_rfc3339(char out[40])
{
	struct timespec ts;
	struct tm tm;

	char ymd[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(ymd, sizeof(ymd), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%.24s.%03dZ", ymd, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* event_body - the common members of the daemon's own records */
static json_object *event_body(const audit_trail *t, const char *event)
{
	json_object *o = json_object_new_object();
	char ts[40];

	now_rfc3339(ts);
	json_object_object_add(o, "ts", json_object_new_string(ts));
	json_object_object_add(o, "host", json_object_new_string(t->hf.host));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "trail_id", json_object_new_string(t->hf.trail_id));
	return o;
}

/* maybe_evolve - step to the next sealing epoch when this one is used up */
static int maybe_evolve(audit_trail *t, char **err)
{
	time_t now = time(NULL);
	audit_seal next;
	char *why = NULL;

	if (!t->sealed)
		return 0;
	if (!((t->o.epoch_records && t->hf.epoch_records >= t->o.epoch_records)
	      || (t->o.epoch_seconds && now - t->hf.epoch_start >= t->o.epoch_seconds)))
		return 0;
	next = t->seal;
	if (audit_seal_evolve(&next) < 0) {
		audit_seal_wipe(&next);
		*err = pn_asprintf("trail %s: cannot evolve the sealing key", t->path);
		return -1;
	}
	/* The evolved key replaces the file before any record uses it, so a
	 * restart never goes back to the old one. */
	if (t->o.key_file[0] && audit_seal_save(t->o.key_file, &next, &why) < 0) {
		audit_seal_wipe(&next);
		*err = pn_asprintf("trail %s: %s", t->path, why);
		pn_free(why);
		return -1;
	}
	audit_seal_wipe(&t->seal);
	t->seal = next;
	audit_seal_wipe(&next);
	t->hf.epoch = t->seal.epoch;
	t->hf.epoch_records = 0;
	t->hf.epoch_start = now;
	return 0;
}

/* write_line - seal body as the next record and append it (locks held) */
static int write_line(audit_trail *t, const char *body, size_t len, pn_buf *line,
		      int unterminated, char **err)
{
	audit_head prev;
	pn_buf out;
	struct stat st;
	ssize_t n;
	int rc = -1;

	if (maybe_evolve(t, err) < 0)
		return -1;
	unterminated |= t->need_newline;
	prev.seq = t->hf.seq;
	memcpy(prev.hash, t->hf.hash, sizeof(prev.hash));
	if (audit_chain_seal_epoch(line, body, len, &prev, t->sealed ? t->seal.key : NULL,
				   t->seal.keylen, t->sealed ? (long long)t->seal.epoch : -1) < 0) {
		*err = pn_asprintf("trail %s: record too large or malformed", t->path);
		return -1;
	}
	if (t->fd < 0) {
		/* No file: the chain lives in memory (syslog-only output). */
		audit_chain_advance(&prev, prev.seq + 1, pn_buf_str(line), pn_buf_len(line));
		goto advanced;
	}
	if (fstat(t->fd, &st) < 0) {
		*err = pn_asprintf("trail %s: fstat: %s", t->path, strerror(errno));
		return -1;
	}
	pn_buf_init(&out, 0);
	if ((unterminated && pn_buf_putc(&out, '\n') < 0)
	    || pn_buf_append(&out, pn_buf_str(line), pn_buf_len(line)) < 0
	    || pn_buf_putc(&out, '\n') < 0) {
		*err = pn_asprintf("trail %s: record too large", t->path);
		pn_buf_free(&out);
		return -1;
	}
	do
		n = write(t->fd, pn_buf_str(&out), pn_buf_len(&out));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)pn_buf_len(&out)) {
		int e = n < 0 ? errno : ENOSPC;
		/* Never leave half a record: it would break the chain for good. */
		if (n > 0 && ftruncate(t->fd, st.st_size) < 0)
			pn_log(PN_LOG_ERROR, "trail %s: cannot remove a partial record: %s",
			       t->path, strerror(errno));
		*err = pn_asprintf("trail %s: write: %s", t->path, strerror(e));
		pn_buf_free(&out);
		return -1;
	}
	pn_buf_free(&out);
	t->need_newline = 0;
	audit_chain_advance(&prev, prev.seq + 1, pn_buf_str(line), pn_buf_len(line));
	t->hf.size = (long long)st.st_size + n;
	t->hf.dev = (unsigned long long)st.st_dev;
	t->hf.ino = (unsigned long long)st.st_ino;
	t->dirty = 1;
advanced:
	t->hf.seq = prev.seq;
	memcpy(t->hf.hash, prev.hash, sizeof(t->hf.hash));
	if (t->sealed)
		t->hf.epoch_records++;
	t->written++;
	rc = 0;
	return rc;
}

/* write_event - one of the daemon's own records (trail-start, gap, key-change) */
static int write_event(audit_trail *t, json_object *o, int unterminated, char **err)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	pn_buf line;
	int rc;

	pn_buf_init(&line, 0);
	rc = write_line(t, text, strlen(text), &line, unterminated, err);
	/* The syslog copy must hold the chain's own records too: a gap there
	 * is the alarm, and the copy verifies only with them. */
	if (rc == 0 && t->o.syslog)
		syslog(LOG_MAIL | (strcmp(json_object_get_string(json_object_object_get(o, "event")),
					  "gap") == 0 ? LOG_CRIT : LOG_INFO),
		       "%s%s", t->o.syslog_cee ? "@cee: " : "", pn_buf_str(&line));
	pn_buf_free(&line);
	json_object_put(o);
	return rc;
}

/* line_before - the record whose line ends (with its newline) at offset end */
static int line_before(int fd, off_t end, audit_link *l)
{
	off_t window = end < TAIL_FIRST ? end : TAIL_FIRST;
	char *buf, *err = NULL;
	size_t start, len;
	int rc = -1;

	if (end < 2)
		return -1;
	buf = pn_malloc((size_t)window);
	if (pread(fd, buf, (size_t)window, end - window) != (ssize_t)window
	    || buf[window - 1] != '\n')
		goto out;
	len = (size_t)window - 1;
	start = len;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && window < end)
		goto out;	/* longer than a record can be */
	rc = audit_chain_parse(buf + start, len - start, l, &err);
	pn_free(err);
out:
	pn_free(buf);
	return rc;
}

/* follows - do the lines of [from, size) chain on from head? 0 yes, 1 no */
static int follows(int fd, off_t from, off_t size, audit_head *head, int *unterminated,
		   char **why)
{
	size_t len = (size_t)(size - from), pos = 0;
	char *buf;
	int rc = 0;

	*unterminated = 0;
	if (size <= from)
		return 0;
	if (size - from > TAIL_MAX) {
		*why = pn_asprintf("%lld bytes the daemon did not write were appended",
				   (long long)(size - from));
		return 1;
	}
	buf = pn_malloc(len);
	if (pread(fd, buf, len, from) != (ssize_t)len) {
		pn_free(buf);
		*why = pn_strdup("the trail file cannot be read back");
		return 1;
	}
	while (pos < len && rc == 0) {
		char *nl = memchr(buf + pos, '\n', len - pos), *err = NULL;
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		audit_link l;

		if (nl == NULL) {
			*unterminated = 1;	/* a writer crashed mid-record: verify reports it */
			break;
		}
		if (audit_chain_parse(buf + pos, n, &l, &err) < 0 || l.seq != head->seq + 1
		    || strcmp(l.prev, head->hash) != 0) {
			*why = pn_asprintf("the line at byte %lld is not the record that follows "
					   "seq %llu", (long long)(from + (off_t)pos), head->seq);
			rc = 1;
		} else {
			head->seq = l.seq;
			memcpy(head->hash, l.hash, sizeof(head->hash));
		}
		pn_free(err);
		pos += n + 1;
	}
	pn_free(buf);
	return rc;
}

/* rotated_away - does the newest rotated file end with our head? (logrotate) */
static int rotated_away(audit_trail *t)
{
	char *rotated = audit_trail_newest_rotated(t->path), *err = NULL;
	audit_head h;
	int yes;

	if (rotated == NULL)
		return 0;
	yes = head_from_file(rotated, &h, &err) == 0 && h.seq == t->hf.seq
	      && strcmp(h.hash, t->hf.hash) == 0;
	pn_free(err);
	pn_free(rotated);
	return yes;
}

/* reconcile - does the open file still hold what we wrote? 0 yes, 1 no (why) */
static int reconcile(audit_trail *t, const struct stat *st, int *unterminated, char **why)
{
	audit_head h;
	off_t from = 0;

	h.seq = t->hf.seq;
	memcpy(h.hash, t->hf.hash, sizeof(h.hash));
	*unterminated = 0;
	if ((unsigned long long)st->st_dev == t->hf.dev && (unsigned long long)st->st_ino == t->hf.ino
	    && !(st->st_size < t->hf.size && rotated_away(t))) {
		audit_link l;

		if (st->st_size < t->hf.size) {
			*why = pn_asprintf("the trail file is %lld bytes, shorter than the %lld bytes "
					   "it had after seq %llu: records were cut",
					   (long long)st->st_size, t->hf.size, t->hf.seq);
			return 1;
		}
		if (t->hf.size > 0 && (line_before(t->fd, (off_t)t->hf.size, &l) < 0
				       || l.seq != t->hf.seq || strcmp(l.hash, t->hf.hash) != 0)) {
			*why = pn_asprintf("record seq %llu, the last one written, is not where it "
					   "was written or was altered", t->hf.seq);
			return 1;
		}
		from = (off_t)t->hf.size;
	}
	else if (!rotated_away(t)) {
		/* Another file took the trail's name, and the newest rotated one
		 * does not end with our last record: the trail was replaced. */
		*why = pn_asprintf("the trail file was replaced, and no rotated file ends with "
				   "seq %llu, the last one written", t->hf.seq);
		return 1;
	}
	/* Else a new file (logrotate moved the old one away): it must be empty
	 * or continue the chain. */
	if (follows(t->fd, from, st->st_size, &h, unterminated, why))
		return 1;
	t->need_newline = *unterminated;
	if (h.seq != t->hf.seq) {
		pn_log(PN_LOG_INFO, "trail %s: another writer appended seq %llu..%llu; continuing",
		       t->path, t->hf.seq + 1, h.seq);
		t->hf.seq = h.seq;
		memcpy(t->hf.hash, h.hash, sizeof(h.hash));
	}
	t->hf.size = (long long)st->st_size;
	t->hf.dev = (unsigned long long)st->st_dev;
	t->hf.ino = (unsigned long long)st->st_ino;
	return 0;
}

/* write_gap - the file is not what we left: never adopt it, say so in the chain */
static int write_gap(audit_trail *t, const char *why, int unterminated, char **err)
{
	json_object *o = event_body(t, "gap");

	pn_log(PN_LOG_FATAL, "trail %s: TAMPERING: %s; a gap record links the chain to the "
	       "last known record seq %llu and seq numbers continue from there "
	       "(postern-audit verify will report it)", t->path, why, t->hf.seq);
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_object_add(o, "last_seq", json_object_new_int64((int64_t)t->hf.seq));
	json_object_object_add(o, "last_hash", json_object_new_string(t->hf.hash));
	return write_event(t, o, unterminated, err);
}

/* load_key - the sealing key as configured now; 0 none, 1 loaded, -1 error */
static int load_key(audit_trail *t, audit_seal *s, char **err)
{
	char *why = NULL;

	if (!t->o.key_file[0])
		return 0;
	if (audit_seal_load(t->o.key_file, t->o.key_uid, s, &why) < 0) {
		*err = pn_asprintf("trail %s: %s", t->path, why);
		pn_free(why);
		return -1;
	}
	return 1;
}

/* take_key - adopt the configured key; a different key gets a key-change record */
static int take_key(audit_trail *t, int unterminated, char **err)
{
	audit_seal s;
	int have = load_key(t, &s, err);
	const char *old = t->hf.key_id;
	json_object *o;
	char *why = NULL;

	t->rekey = 0;
	if (have < 0)
		return -1;
	if (have && strcmp(s.key_id, old) == 0) {
		/* The same lineage. Ours is at least as evolved as the file when we
		 * hold one; else catch up with the head (a key file from a backup). */
		if (!t->sealed) {
			if (s.epoch < t->hf.epoch) {
				audit_seal_advance_to(&s, t->hf.epoch);
				if (audit_seal_save(t->o.key_file, &s, &why) < 0) {
					pn_log(PN_LOG_ERROR, "trail %s: %s", t->path, why);
					pn_free(why);
				}
			} else if (s.epoch > t->hf.epoch) {
				t->hf.epoch = s.epoch;
				t->hf.epoch_records = 0;
				t->hf.epoch_start = time(NULL);
			}
			t->seal = s;
			t->sealed = 1;
		}
		audit_seal_wipe(&s);
		return 0;
	}
	if (!have && !old[0])
		return 0;
	/* Unsigned to signed, a new key (rotation), or signing turned off. */
	o = event_body(t, "key-change");
	if (old[0])
		json_object_object_add(o, "previous_key_id", json_object_new_string(old));
	if (have)
		json_object_object_add(o, "key_id", json_object_new_string(s.key_id));
	pn_log(PN_LOG_WARN, "trail %s: sealing key changed from %s to %s at seq %llu", t->path,
	       old[0] ? old : "none", have ? s.key_id : "none", t->hf.seq + 1);
	audit_seal_wipe(&t->seal);
	t->sealed = have;
	if (have)
		t->seal = s;
	audit_seal_wipe(&s);
	memcpy(t->hf.key_id, have ? t->seal.key_id : "", have ? sizeof(t->hf.key_id) : 1);
	t->hf.epoch = have ? t->seal.epoch : 0;
	t->hf.epoch_records = 0;
	t->hf.epoch_start = time(NULL);
	return write_event(t, o, unterminated, err);
}

/* resume_key - take the configured key only when it continues the head's lineage */
static int resume_key(audit_trail *t, char **err)
{
	audit_seal s;
	int have = load_key(t, &s, err);

	if (have < 0)
		return -1;
	if (have && t->hf.key_id[0] && strcmp(s.key_id, t->hf.key_id) == 0) {
		if (s.epoch < t->hf.epoch)
			audit_seal_advance_to(&s, t->hf.epoch);
		else
			t->hf.epoch = s.epoch;	/* evolved after the head was written */
		t->seal = s;
		t->sealed = 1;
	}
	audit_seal_wipe(&s);
	return 0;
}

/* new_identity - a fresh trail id, this host, now */
static void new_identity(audit_trail *t)
{
	unsigned char id[AUDIT_TRAIL_ID_LEN / 2];

	if (RAND_bytes(id, sizeof(id)) != 1) {
		/* Never reached on a working OpenSSL; fall back to something unique. */
		snprintf((char *)id, sizeof(id), "%lx%lx", (long)getpid(), (long)time(NULL));
	}
	pn_hex(id, sizeof(id), t->hf.trail_id);
	snprintf(t->hf.host, sizeof(t->hf.host), "%s", t->o.host[0] ? t->o.host : "localhost");
	now_rfc3339(t->hf.created);
}

/* start_fresh - identity and trail-start record; adopted: seq of a legacy trail */
static int start_fresh(audit_trail *t, int unterminated, char **err)
{
	json_object *o;
	audit_seal s;
	int have;

	new_identity(t);
	if ((have = load_key(t, &s, err)) < 0)
		return -1;
	t->sealed = have;
	if (have) {
		t->seal = s;
		audit_seal_wipe(&s);
		memcpy(t->hf.key_id, t->seal.key_id, sizeof(t->hf.key_id));
	}
	t->hf.epoch = have ? t->seal.epoch : 0;
	t->hf.epoch_records = 0;
	t->hf.epoch_start = time(NULL);
	t->started = 1;
	t->rekey = 0;
	o = event_body(t, "trail-start");
	json_object_object_add(o, "created", json_object_new_string(t->hf.created));
	if (have)
		json_object_object_add(o, "key_id", json_object_new_string(t->hf.key_id));
	json_object_object_add(o, "epoch_records", json_object_new_int64((int64_t)t->o.epoch_records));
	json_object_object_add(o, "epoch_seconds", json_object_new_int64(t->o.epoch_seconds));
	if (t->hf.seq > 0) {
		json_object_object_add(o, "adopted_seq", json_object_new_int64((int64_t)t->hf.seq));
		pn_log(PN_LOG_WARN, "trail %s: no head file %s: adopting the trail as found "
		       "(seq %llu) under a new trail identity; verify reports the records "
		       "before it as adopted", t->path, t->head_path ? t->head_path : "", t->hf.seq);
	}
	return write_event(t, o, unterminated, err);
}

/* start - first append of this process: identity, head and key (locks held) */
static int start(audit_trail *t, const struct stat *st, char **err)
{
	char *why = NULL;
	int got = 0, unterminated = 0, rc;

	memset(&t->hf, 0, sizeof(t->hf));
	memcpy(t->hf.hash, AUDIT_ZERO_HASH, sizeof(t->hf.hash));
	if (st) {
		t->hf.dev = (unsigned long long)st->st_dev;
		t->hf.ino = (unsigned long long)st->st_ino;
	}
	if (t->head_path && (got = audit_headfile_read(t->head_path, &t->hf, &why)) < 0) {
		pn_log(PN_LOG_FATAL, "trail %s: TAMPERING or damage: %s: treating the trail as "
		       "found", t->path, why);
		pn_free(why);
		why = NULL;
		got = 0;
		memset(&t->hf, 0, sizeof(t->hf));
		memcpy(t->hf.hash, AUDIT_ZERO_HASH, sizeof(t->hf.hash));
	}
	if (got == 1) {
		t->started = 1;
		t->sealed = 0;
		if (reconcile(t, st, &unterminated, &why) == 0) {
			rc = take_key(t, unterminated, err);
		} else {
			/* The gap record comes first, sealed with the key of the head's
			 * lineage when that key is still configured. */
			rc = resume_key(t, err);
			if (rc == 0)
				rc = write_gap(t, why, unterminated, err);
			if (rc == 0)
				rc = take_key(t, 0, err);
		}
		pn_free(why);
		return rc;
	}
	/* No head file: a new trail, or one from before trail identities. */
	if (st && st->st_size > 0) {
		audit_head h;
		if (head_from_tail(t->fd, st->st_size, t->path, &h, &unterminated, err) < 0)
			return -1;
		t->need_newline = unterminated;
		t->hf.seq = h.seq;
		memcpy(t->hf.hash, h.hash, sizeof(h.hash));
		t->hf.size = (long long)st->st_size;
	} else if (st) {
		audit_head h;
		if (head_for_empty(t->path, &h, NULL, err) < 0)
			return -1;
		t->hf.seq = h.seq;
		memcpy(t->hf.hash, h.hash, sizeof(h.hash));
	}
	return start_fresh(t, unterminated, err);
}

/* prepare - before a record: identity, file checks, key changes (locks held) */
static int prepare(audit_trail *t, int *unterminated, char **err)
{
	struct stat st;
	char *why = NULL;
	int rc = 0;

	*unterminated = 0;
	if (t->fd >= 0 && fstat(t->fd, &st) < 0) {
		*err = pn_asprintf("trail %s: fstat: %s", t->path, strerror(errno));
		return -1;
	}
	if (!t->started) {
		if (start(t, t->fd >= 0 ? &st : NULL, err) < 0)
			return -1;
		persist_head(t, t->o.sync != AUDIT_SYNC_NEVER);
		return 0;
	}
	if (t->fd >= 0 && ((long long)st.st_size != t->hf.size
			   || (unsigned long long)st.st_ino != t->hf.ino
			   || (unsigned long long)st.st_dev != t->hf.dev)) {
		if (reconcile(t, &st, unterminated, &why) != 0) {
			rc = write_gap(t, why, *unterminated, err);
			*unterminated = 0;
			pn_free(why);
			if (rc < 0)
				return -1;
			persist_head(t, t->o.sync != AUDIT_SYNC_NEVER);
		}
	}
	if (t->rekey) {
		if (take_key(t, *unterminated, err) < 0)
			return -1;
		*unterminated = 0;
		persist_head(t, t->o.sync != AUDIT_SYNC_NEVER);
	}
	return 0;
}

/* group_commit - wait until record gen is on disk; one fdatasync serves a batch */
static int group_commit(audit_trail *t, unsigned long long gen, char **err)
{
	while (t->synced < gen) {
		unsigned long long target;
		audit_headfile snap;
		char *herr = NULL;
		int fd, rc, e = 0, durable_head;

		if (t->failed_upto >= gen) {
			*err = pn_asprintf("trail %s: fdatasync failed", t->path);
			return -1;
		}
		if (t->syncing) {
			pthread_cond_wait(&t->synced_cv, &t->lock);
			continue;
		}
		/* Leader: sync everything written so far, outside the lock, so that
		 * the records written meanwhile wait for the next one. */
		target = t->written;
		snap = t->hf;
		/* The head file is a hint that may lag (a longer file that chains on
		 * is adopted at start): fsync it at most once a second, not per batch. */
		durable_head = time(NULL) != t->last_head_fsync;
		if (durable_head)
			t->last_head_fsync = time(NULL);
		fd = t->fd >= 0 ? dup(t->fd) : -1;
		t->syncing = 1;
		pthread_mutex_unlock(&t->lock);
		rc = fd >= 0 ? pn_metric_fdatasync(PN_MF_AUDIT_TRAIL, fd) : 0;
		if (rc < 0)
			e = errno;
		if (fd >= 0)
			close(fd);
		if (rc == 0 && t->head_path
		    && audit_headfile_write(t->head_path, &snap, durable_head, &herr) < 0) {
			pn_log(PN_LOG_ERROR, "trail %s: %s", t->path, herr);
			pn_free(herr);
		}
		pthread_mutex_lock(&t->lock);
		t->syncing = 0;
		if (rc == 0) {
			if (target > t->synced)
				t->synced = target;
		} else {
			pn_log(PN_LOG_ERROR, "trail %s: fdatasync: %s", t->path, strerror(e));
			if (target > t->failed_upto)
				t->failed_upto = target;
		}
		pthread_cond_broadcast(&t->synced_cv);
	}
	return 0;
}

/* sync_after - durability as configured, for the record numbered gen */
static int sync_after(audit_trail *t, unsigned long long gen, char **err)
{
	time_t now;

	if (t->fd < 0)
		return 0;
	if (t->o.sync == AUDIT_SYNC_ALWAYS)
		return group_commit(t, gen, err);
	now = time(NULL);
	if (t->o.sync == AUDIT_SYNC_NEVER) {
		if (now != t->last_head_write)
			persist_head(t, 0);
		return 0;
	}
	if (now - t->last_sync < t->o.interval)
		return 0;
	if (pn_metric_fdatasync(PN_MF_AUDIT_TRAIL, t->fd) < 0) {
		*err = pn_asprintf("trail %s: fdatasync: %s", t->path, strerror(errno));
		return -1;
	}
	t->last_sync = now;
	t->dirty = 0;
	persist_head(t, 1);
	return 0;
}

/* audit_trail_append - seal and append one record */
int audit_trail_append(audit_trail *t, const char *body, size_t len, pn_buf *line, char **err)
{
	unsigned long long gen;
	int rc, unterminated = 0, locked = 0;

	*err = NULL;
	pthread_mutex_lock(&t->lock);
	if (t->path[0] != '\0') {
		if (ensure_open(t, err) < 0) {
			pthread_mutex_unlock(&t->lock);
			return -1;
		}
		if (flock(t->fd, LOCK_EX) < 0) {
			*err = pn_asprintf("trail %s: flock: %s", t->path, strerror(errno));
			pthread_mutex_unlock(&t->lock);
			return -1;
		}
		locked = 1;
	}
	rc = prepare(t, &unterminated, err);
	if (rc == 0)
		rc = write_line(t, body, len, line, unterminated, err);
	gen = t->written;
	if (locked)
		flock(t->fd, LOCK_UN);
	if (rc == 0)
		rc = sync_after(t, gen, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}
