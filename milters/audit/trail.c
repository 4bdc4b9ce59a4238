/* trail - process-wide append-only trail with its chain state (see trail.h) */
#include "milters/audit/trail.h"
#include "milters/audit/reader.h"
#include "common/alloc.h"
#include "common/log.h"

#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How far back recovery looks for a valid record in a damaged file. */
#define TAIL_FIRST ((off_t)1024 * 1024)
#define TAIL_MAX ((off_t)64 * 1024 * 1024)

struct audit_trail {
	char *path;
	int refs;
	pthread_mutex_t lock;	/* everything below */
	int fd;
	dev_t dev;
	ino_t ino;
	off_t end;		/* file size after our last write */
	int have_head;
	int reopen;
	audit_head head;
	mode_t mode;
	audit_sync sync;
	long interval;
	time_t last_sync;
	int dirty;		/* written since the last fdatasync */
	audit_trail *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static audit_trail *registry;

/* audit_trail_get - the trail for path, shared by every snapshot */
audit_trail *audit_trail_get(const char *path, mode_t mode, audit_sync sync, long interval)
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
		t->mode = mode;
		t->sync = sync;
		t->interval = interval;
		pthread_mutex_unlock(&t->lock);
	} else {
		t = pn_calloc(1, sizeof(*t));
		t->path = pn_strdup(path);
		t->refs = 1;
		pthread_mutex_init(&t->lock, NULL);
		t->fd = -1;
		t->mode = mode;
		t->sync = sync;
		t->interval = interval;
		audit_head_init(&t->head);
		t->next = registry;
		registry = t;
	}
	pthread_mutex_unlock(&registry_lock);
	return t;
}

/* close_file - flush what the sync policy promised, then close */
static void close_file(audit_trail *t)
{
	if (t->fd < 0)
		return;
	if (t->dirty && t->sync != AUDIT_SYNC_NEVER && fdatasync(t->fd) < 0)
		pn_log(PN_LOG_ERROR, "trail %s: fdatasync: %s", t->path, strerror(errno));
	close(t->fd);
	t->fd = -1;
	t->dirty = 0;
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
	close_file(t);
	pthread_mutex_destroy(&t->lock);
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
	struct stat a, b;

	if (t->fd >= 0 && !t->reopen && stat(t->path, &a) == 0 && a.st_dev == t->dev
	    && a.st_ino == t->ino)
		return 0;
	close_file(t);
	t->reopen = 0;
	if ((t->fd = open(t->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, t->mode)) < 0) {
		*err = pn_asprintf("trail %s: cannot open: %s", t->path, strerror(errno));
		return -1;
	}
	if (fstat(t->fd, &b) < 0) {
		*err = pn_asprintf("trail %s: fstat: %s", t->path, strerror(errno));
		close(t->fd);
		t->fd = -1;
		return -1;
	}
	t->dev = b.st_dev;
	t->ino = b.st_ino;
	t->end = -1;
	return 0;
}

/* sync_file - durability as configured */
static int sync_file(audit_trail *t, char **err)
{
	time_t now;

	t->dirty = 1;
	if (t->sync == AUDIT_SYNC_NEVER)
		return 0;
	now = time(NULL);
	if (t->sync == AUDIT_SYNC_INTERVAL && now - t->last_sync < t->interval)
		return 0;
	if (fdatasync(t->fd) < 0) {
		*err = pn_asprintf("trail %s: fdatasync: %s", t->path, strerror(errno));
		return -1;
	}
	t->last_sync = now;
	t->dirty = 0;
	return 0;
}

/* write_locked - chain head check, seal, one write; trail lock and flock held */
static int write_locked(audit_trail *t, const char *body, size_t len, const unsigned char *key,
			size_t keylen, pn_buf *line, char **err)
{
	struct stat st;
	int unterminated = 0;
	pn_buf out;
	ssize_t n;
	int rc = -1;

	if (fstat(t->fd, &st) < 0) {
		*err = pn_asprintf("trail %s: fstat: %s", t->path, strerror(errno));
		return -1;
	}
	if (st.st_size > 0 && (!t->have_head || st.st_size != t->end)) {
		/* First write, or someone else changed the file: believe the file. */
		if (head_from_tail(t->fd, st.st_size, t->path, &t->head, &unterminated, err) < 0)
			return -1;
	} else if (st.st_size == 0 && !t->have_head) {
		if (head_for_empty(t->path, &t->head, NULL, err) < 0)
			return -1;
	}
	t->have_head = 1;
	if (audit_chain_seal(line, body, len, &t->head, key, keylen) < 0) {
		*err = pn_asprintf("trail %s: record too large or malformed", t->path);
		return -1;
	}
	pn_buf_init(&out, 0);
	if ((unterminated && pn_buf_putc(&out, '\n') < 0)
	    || pn_buf_append(&out, pn_buf_str(line), pn_buf_len(line)) < 0
	    || pn_buf_putc(&out, '\n') < 0) {
		*err = pn_asprintf("trail %s: record too large", t->path);
		goto out;
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
		goto out;
	}
	t->end = st.st_size + (off_t)n;
	audit_chain_advance(&t->head, t->head.seq + 1, pn_buf_str(line), pn_buf_len(line));
	rc = sync_file(t, err);
out:
	pn_buf_free(&out);
	return rc;
}

/* audit_trail_append - seal and append one record */
int audit_trail_append(audit_trail *t, const char *body, size_t len, const unsigned char *key,
		       size_t keylen, pn_buf *line, char **err)
{
	int rc;

	*err = NULL;
	pthread_mutex_lock(&t->lock);
	if (t->path[0] == '\0') {
		/* No file: the chain lives in memory (syslog-only output). */
		rc = audit_chain_seal(line, body, len, &t->head, key, keylen);
		if (rc == 0)
			audit_chain_advance(&t->head, t->head.seq + 1, pn_buf_str(line),
					    pn_buf_len(line));
		else
			*err = pn_strdup("record too large or malformed");
		pthread_mutex_unlock(&t->lock);
		return rc;
	}
	if (ensure_open(t, err) < 0) {
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	if (flock(t->fd, LOCK_EX) < 0) {
		*err = pn_asprintf("trail %s: flock: %s", t->path, strerror(errno));
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	rc = write_locked(t, body, len, key, keylen, line, err);
	flock(t->fd, LOCK_UN);
	pthread_mutex_unlock(&t->lock);
	return rc;
}
