/* SPDX-License-Identifier: BSD-2-Clause */
/* archive - the write path of one delivery and the archive handle (see archive.h) */
#include "milters/archive/archive.h"
#include "common/alloc.h"
#include "common/codec.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/privs.h"
#include "common/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FORMAT_TEXT "postern-archive 1\n"
#define SEEN_SLOTS 4096		/* objects a host remembers having journaled */
#define MAINT_LOCK_NAME "postern-archive maintenance"

/* Objects this host journaled an object record for (several hosts: the
 * index is not asked on the delivery path). Direct-mapped by name: a
 * collision forgets one, which costs a duplicate record, one row once
 * applied. */
struct arc_seen {
	pthread_mutex_t lock;
	arc_object slot[SEEN_SLOTS];
};

struct arc_inflight {
	char sha[65];
	arc_inflight *next;
};

/* make_root - create the archive directory; root gives it to the daemon's user */
static int make_root(const arc_settings *set, char **err)
{
	struct stat st;

	if (stat(set->dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*err = pn_asprintf("archive %s is not a directory", set->dir);
			return -1;
		}
		return 0;
	}
	/* A root command that took the daemon user's rights (common/privs)
	 * takes root's back to create the directory in root's parent. */
	if (pn_privs_invoker_begin() < 0) {
		*err = pn_asprintf("cannot create archive directory %s: %s", set->dir, strerror(errno));
		return -1;
	}
	{
		/* missing parents too (/var/lib/postern on a fresh system) */
		char *p = pn_strdup(set->dir), *slash;
		for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				break;
			*slash = '/';
		}
		pn_free(p);
	}
	if (mkdir(set->dir, 0750) < 0 && errno != EEXIST) {
		*err = pn_asprintf("cannot create archive directory %s: %s", set->dir, strerror(errno));
		pn_privs_invoker_end();
		return -1;
	}
	if (geteuid() == 0 && set->user && *set->user) {
		struct passwd *pw = getpwnam(set->user);
		int fd = open(set->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pw && (fd < 0 || fchown(fd, pw->pw_uid, pw->pw_gid) < 0))
			pn_warn("cannot give %s to %s: %s", set->dir, set->user, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	pn_privs_invoker_end();
	return 0;
}

/* check_format - write the marker file, or refuse an archive of another format */
static int check_format(arc_archive *a, char **err)
{
	char *path = pn_asprintf("%s/FORMAT", a->dir), buf[64];
	int dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, rc = 0, created = 0;
	ssize_t n;

	/* never through a planted link: safefile creates or opens it */
	fd = dirfd < 0 ? -1 : arc_open_in(dirfd, "FORMAT", O_RDWR | O_CREAT, 0640, &a->owner,
					  &created);
	if (fd < 0 && dirfd >= 0 && errno == EACCES)
		fd = arc_open_in(dirfd, "FORMAT", O_RDONLY, 0, &a->owner, NULL);
	if (dirfd >= 0)
		close(dirfd);
	if (fd < 0) {
		/* a read-only archive may lack it; a planted link is refused */
		if (errno != ENOENT && errno != EACCES) {
			*err = pn_asprintf("%s: %s", path, strerror(errno));
			rc = -1;
		}
	} else if (created) {
		if (arc_write_all(fd, FORMAT_TEXT, strlen(FORMAT_TEXT)) == 0)
			fsync(fd);
		close(fd);
	} else {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (strncmp(buf, FORMAT_TEXT, strlen(FORMAT_TEXT)) != 0) {
			buf[strcspn(buf, "\n")] = '\0';
			*err = pn_asprintf("%s: format \"%s\" is not \"postern-archive 1\"", path, buf);
			rc = -1;
		}
	}
	pn_free(path);
	return rc;
}

/* touch_lock - create a lock file now, owned like the archive */
static void touch_lock(arc_archive *a, const char *name)
{
	int dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dirfd < 0)
		return;
	fd = pn_safe_create(dirfd, name, O_RDWR, 0660, a->owner.set ? a->owner.uid : (uid_t)-1,
			    a->owner.set ? a->owner.gid : (gid_t)-1);
	if (fd >= 0)
		close(fd);
	close(dirfd);
}

/* parse_key_hex - 64 hex digits (and an optional newline) into a key */
static int parse_key_hex(const char *text, size_t len, unsigned char key[ARC_NAME_KEY_LEN])
{
	size_t i;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len != 2 * ARC_NAME_KEY_LEN)
		return -1;
	/* digit by digit: the text is not a C string (no NUL after what was read) */
	for (i = 0; i < ARC_NAME_KEY_LEN; i++) {
		int hi = pn_hex_value((unsigned char)text[2 * i]);
		int lo = pn_hex_value((unsigned char)text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* create_name_key - a new random name key, mode 0600, never through a link */
static int create_name_key(arc_archive *a, const char *path, unsigned char key[ARC_NAME_KEY_LEN],
			   char **err)
{
	char hex[2 * ARC_NAME_KEY_LEN + 2];
	int fd;

	if (getrandom(key, ARC_NAME_KEY_LEN, 0) != ARC_NAME_KEY_LEN) {
		*err = pn_asprintf("cannot make a name key: %s", strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = pn_asprintf("cannot create name key %s: %s", path, strerror(errno));
		return -1;
	}
	pn_hex(key, ARC_NAME_KEY_LEN, hex);
	hex[2 * ARC_NAME_KEY_LEN] = '\n';
	hex[2 * ARC_NAME_KEY_LEN + 1] = '\0';
	if (fchmod(fd, 0600) < 0 || arc_write_all(fd, hex, strlen(hex)) < 0 || fsync(fd) < 0) {
		*err = pn_asprintf("cannot write name key %s: %s", path, strerror(errno));
		OPENSSL_cleanse(hex, sizeof(hex));
		close(fd);
		unlink(path);
		return -1;
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	arc_owner_fd(&a->owner, fd);
	close(fd);
	pn_info("%s: created the object name key %s: keep a copy with the archive's backup",
		a->dir, path);
	return 0;
}

/* load_name_key - read (or, sealed, create) the key that names objects */
static int load_name_key(arc_archive *a, const arc_settings *set, char **err)
{
	char *path = set->name_key && *set->name_key ? pn_strdup(set->name_key)
		: pn_asprintf("%s/" ARC_NAME_KEY_FILE, a->dir);
	unsigned char key[ARC_NAME_KEY_LEN];
	char text[2 * ARC_NAME_KEY_LEN + 8];
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* without encryption names stay SHA-256: no key is needed */
		if (a->seal == NULL) {
			rc = 0;
			goto done;
		}
		if (create_name_key(a, path, key, err) < 0)
			goto done;
		arc_store_set_name_key(a->store, key);
		rc = 0;
		goto done;
	}
	if (fd < 0) {
		*err = pn_asprintf("cannot read name key %s: %s", path, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = pn_asprintf("name key %s is not a regular file", path);
		goto done;
	}
	if (st.st_mode & 077) {
		*err = pn_asprintf("name key %s has mode %04o: others could read it; "
				   "chmod 0600 it", path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	n = read(fd, text, sizeof(text) - 1);
	if (n < 0 || parse_key_hex(text, (size_t)n, key) < 0) {
		*err = pn_asprintf("name key %s: want 64 hexadecimal digits", path);
		goto done;
	}
	arc_store_set_name_key(a->store, key);
	rc = 0;
done:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(text, sizeof(text));
	if (fd >= 0)
		close(fd);
	pn_free(path);
	return rc;
}

/* start_indexer - the indexer, the lock files, temporaries of dead writers */
static void start_indexer(arc_archive *a, const arc_settings *set)
{
	size_t n;

	a->indexer = arc_indexer_new(a->index, a->journal, arc_archive_text, a);
	a->indexer_thread = set->indexer_thread;
	a->await_outcome = set->await_outcome;
	touch_lock(a, "lock");
	touch_lock(a, "maintenance.lock");
	if ((n = arc_store_clean_temps(a->store, 1)) > 0)
		pn_info("%s: removed %zu temporary file%s left by a writer that stopped", a->dir, n,
			n == 1 ? "" : "s");
}

/* open_shared - several hosts: this host's journal, the PostgreSQL index */
static int open_shared(arc_archive *a, const arc_settings *set, char **err)
{
	size_t n;

	a->shared = 1;
	a->index_connection = pn_strdup(set->index_connection);
	a->seen = pn_calloc(1, sizeof(*a->seen));
	pthread_mutex_init(&a->seen->lock, NULL);
	/* temporary files name their host: no host removes another's */
	arc_store_set_host(a->store, set->host);
	if ((a->journal = arc_journal_open_host(a->dir, set->host, &a->owner, a->busy_ms, err))
	    == NULL)
		return -1;
	/* connects lazily: a database that is down is no error here */
	if ((a->index = arc_index_open_pg(set->index_connection, a->fulltext, err)) == NULL)
		return -1;
	start_indexer(a, set);
	if (!set->catch_up)
		return 0;
	if (arc_journal_repair(a->journal, &n) == 0 && n > 0)
		pn_warn("%s: cut an unfinished line from %zu journal file%s", arc_journal_dir(a->journal),
			n, n == 1 ? "" : "s");
	/* The daemon never waits for the database, not even at start (a
	 * restarted worker must answer at once): arc_archive_serve() starts
	 * its indexer, which catches up. The tools catch up every host's
	 * journal where they read the index; check and db never touch it. */
	if (set->indexer_thread)
		return 0;
	{
		char *why = NULL;
		if (arc_archive_catch_up_all(a, arc_archive_text, a, &n, &why) < 0)
			pn_warn("%s: index not brought up to date with the journals: %s", a->dir, why);
		pn_free(why);
	}
	return 0;
}

/* arc_archive_open - open or create the archive */
arc_archive *arc_archive_open(const arc_settings *set, char **err)
{
	arc_archive *a;
	char *path;
	size_t n;

	*err = NULL;
	a = pn_calloc(1, sizeof(*a));
	pthread_mutex_init(&a->inflight_lock, NULL);
	pthread_cond_init(&a->inflight_done, NULL);
	a->dir = pn_strdup(set->dir);
	a->fulltext = set->fulltext;
	a->fulltext_max = set->fulltext_max;
	a->busy_ms = set->busy_ms;
	a->lock_path = pn_asprintf("%s/lock", a->dir);
	a->maint_lock_path = pn_asprintf("%s/maintenance.lock", a->dir);
	/* the rules first: a bad configuration creates nothing */
	if (set->certificates && *set->certificates
	    && (a->seal = arc_seal_load(set->certificates, err)) == NULL)
		goto fail;
	if ((a->policy = arc_policy_new(&set->scope, err)) == NULL)
		goto fail;
	if (arc_retention_parse(set->retention ? set->retention : "0", &a->retention, err) < 0)
		goto fail;
	if (make_root(set, err) < 0)
		goto fail;
	arc_owner_of(a->dir, &a->owner);
	if (check_format(a, err) < 0)
		goto fail;
	if ((a->store = arc_store_open(a->dir, set->compression_level, a->seal, &a->owner, err))
	    == NULL)
		goto fail;
	if (load_name_key(a, set, err) < 0)
		goto fail;
	/* plaintext objects gain nothing from a private spool: tmp_dir stays */
	if (set->spool_dir && *set->spool_dir)
		a->spool_dir = pn_strdup(set->spool_dir);
	else if (a->seal)
		a->spool_dir = pn_asprintf("%s/spool", a->dir);
	if (a->spool_dir && arc_mkdir(a->spool_dir, 0700, &a->owner) < 0 && errno != EEXIST) {
		*err = pn_asprintf("cannot create spool directory %s: %s", a->spool_dir,
				   strerror(errno));
		goto fail;
	}
	if (a->seal && a->fulltext >= 2)
		pn_warn("%s: fulltext = text with encryption: the index holds the text of every "
			"message in plaintext", a->dir);
	if (set->index_connection && *set->index_connection) {
		if (open_shared(a, set, err) < 0)
			goto fail;
		return a;
	}
	if ((a->journal = arc_journal_open(a->dir, &a->owner, a->busy_ms, err)) == NULL)
		goto fail;
	path = pn_asprintf("%s/index.db", a->dir);
	a->index = arc_index_open(path, a->fulltext, a->busy_ms, &a->owner, err);
	pn_free(path);
	if (a->index == NULL)
		goto fail;
	/* the write path's own connection: it never waits for the indexer's
	 * transaction (WAL readers do not block on a writer) */
	path = pn_asprintf("%s/index.db", a->dir);
	a->lookup = arc_index_open(path, a->fulltext, a->busy_ms, &a->owner, err);
	pn_free(path);
	if (a->lookup == NULL)
		goto fail;
	start_indexer(a, set);
	if (set->catch_up) {
		char *why = NULL;
		if (arc_journal_repair(a->journal, &n) == 0 && n > 0)
			pn_warn("%s: cut an unfinished line from %zu journal file%s", a->dir, n,
				n == 1 ? "" : "s");
		/* as the indexer does: a reload's new handle leaves alone what the
		 * old one's connections await the outcome of */
		if (arc_indexer_run(a->indexer, 1, &n, &why) < 0)
			pn_warn("%s: index not brought up to date with the journal: %s", a->dir, why);
		else if (n > 0)
			pn_info("%s: applied %zu journal record%s missing from the index", a->dir, n,
				n == 1 ? "" : "s");
		pn_free(why);
	}
	return a;
fail:
	arc_archive_close(a);
	return NULL;
}

/* arc_archive_close - release everything */
void arc_archive_close(arc_archive *a)
{
	if (a == NULL)
		return;
	/* the thread's last pass needs the index and the journal */
	arc_indexer_free(a->indexer);
	arc_index_close(a->lookup);
	arc_index_close(a->index);
	arc_journal_close(a->journal);
	arc_store_close(a->store);
	arc_policy_free(a->policy);
	arc_seal_free(a->seal);
	if (a->seen) {
		pthread_mutex_destroy(&a->seen->lock);
		pn_free(a->seen);
	}
	pn_free(a->index_connection);
	while (a->inflight) {
		arc_inflight *next = a->inflight->next;
		pn_free(a->inflight);
		a->inflight = next;
	}
	pthread_mutex_destroy(&a->inflight_lock);
	pthread_cond_destroy(&a->inflight_done);
	pn_free(a->lock_path);
	pn_free(a->maint_lock_path);
	pn_free(a->spool_dir);
	pn_free(a->dir);
	pn_free(a);
}

/* inflight_begin - wait until no other thread stores this object, then claim it */
static void inflight_begin(arc_archive *a, const char *sha)
{
	arc_inflight *f;

	pthread_mutex_lock(&a->inflight_lock);
	for (;;) {
		for (f = a->inflight; f; f = f->next)
			if (strcmp(f->sha, sha) == 0)
				break;
		if (f == NULL)
			break;
		pthread_cond_wait(&a->inflight_done, &a->inflight_lock);
	}
	f = pn_calloc(1, sizeof(*f));
	memcpy(f->sha, sha, 65);
	f->next = a->inflight;
	a->inflight = f;
	pthread_mutex_unlock(&a->inflight_lock);
}

/* inflight_end - release the claim on an object */
static void inflight_end(arc_archive *a, const char *sha)
{
	arc_inflight **p;

	pthread_mutex_lock(&a->inflight_lock);
	for (p = &a->inflight; *p; p = &(*p)->next) {
		if (strcmp((*p)->sha, sha) == 0) {
			arc_inflight *f = *p;
			*p = f->next;
			pn_free(f);
			break;
		}
	}
	pthread_cond_broadcast(&a->inflight_done);
	pthread_mutex_unlock(&a->inflight_lock);
}

/* seen_slot - the cache slot of an object name (lock held) */
static arc_object *seen_slot(arc_archive *a, const char *sha)
{
	unsigned int h = (unsigned int)(pn_hex_value((unsigned char)sha[0]) << 8
					| pn_hex_value((unsigned char)sha[1]) << 4
					| pn_hex_value((unsigned char)sha[2]));

	return &a->seen->slot[h % SEEN_SLOTS];
}

/* seen_get - an object this host journaled before: 0 and *obj, or 1 */
static int seen_get(arc_archive *a, const char *sha, arc_object *obj)
{
	arc_object *o;
	int rc = 1;

	pthread_mutex_lock(&a->seen->lock);
	o = seen_slot(a, sha);
	if (strcmp(o->sha256, sha) == 0) {
		*obj = *o;
		rc = 0;
	}
	pthread_mutex_unlock(&a->seen->lock);
	return rc;
}

/* seen_put - remember an object this host journaled */
static void seen_put(arc_archive *a, const arc_object *obj)
{
	if (a->seen == NULL)
		return;
	pthread_mutex_lock(&a->seen->lock);
	*seen_slot(a, obj->sha256) = *obj;
	pthread_mutex_unlock(&a->seen->lock);
}

/* store_object - find or write the object; *rec tells whether to journal it */
static int store_object(arc_archive *a, arc_source *src, const char *sha,
			unsigned long long size, long long when, arc_object *obj, int *rec,
			int *dedup, char **err)
{
	*rec = 0;
	*dedup = 0;
	if (arc_store_find(a->store, sha, NULL, NULL) == 0) {
		*dedup = 1;
		/* a fresh time keeps a reused object out of prune's sight */
		arc_store_touch(a->store, sha);
		/* journaled a moment ago (the index may lag), or indexed; with
		 * several hosts the index is never asked here: journaled by
		 * this host before (another host's record is its own) */
		if (arc_indexer_known(a->indexer, sha, obj) == 0
		    || (a->lookup ? arc_index_object(a->lookup, sha, obj) == 0
			: seen_get(a, sha, obj) == 0))
			return 0;
		/* stored by a writer that died before journaling it */
		if (arc_store_stat(a->store, sha, obj) < 0) {
			*err = pn_asprintf("cannot read object %s: %s", sha, strerror(errno));
			return -1;
		}
		obj->size = size;
		obj->time = when;
		*rec = 1;
		return 0;
	}
	if (arc_store_put(a->store, src, sha, size, obj, err) < 0)
		return -1;
	obj->time = when;
	*rec = 1;
	return 0;
}

/* index_now - without the indexer thread, apply the journal at once */
static void index_now(arc_archive *a)
{
	char *why = NULL;

	if (arc_indexer_run(a->indexer, 0, NULL, &why) < 0) {
		pn_warn("%s: index behind the journal (caught up later): %s", a->dir, why);
		pn_free(why);
	}
}

/* wake_indexer - the index follows: the thread, or right here */
static void wake_indexer(arc_archive *a)
{
	char *why = NULL;

	if (a->indexer_thread && arc_indexer_start(a->indexer, &why) == 0)
		return;
	if (why) {
		pn_warn("%s: %s: indexing in the delivery path", a->dir, why);
		pn_free(why);
	}
	index_now(a);
}

/* arc_archive_message - record one delivery durably */
int arc_archive_message(arc_archive *a, arc_delivery *d, arc_source *src, arc_result *res,
			char **err)
{
	/* The text for the full-text index is read in the hash pass, which
	 * reads every byte anyway, and handed to the indexer in memory: that
	 * costs far less than the indexer reading the object back (measured:
	 * 2 KB: 3 us here against 35 us there; 100 KB: 85 us against 290 us).
	 * Over the indexer's memory budget it reads the object back instead,
	 * except an encrypted one, which it cannot read. */
	int text_needed = a->seal != NULL;
	arc_meta *meta = arc_meta_new(a->fulltext >= 2 ? a->fulltext_max : 0);
	arc_record recs[2];
	arc_object obj;
	char sha[65];
	unsigned long long size;
	int lock = -1, rec_obj = 0, dedup = 0, rc = -1;
	size_t n = 0;

	*err = NULL;
	memset(res, 0, sizeof(*res));
	memset(recs, 0, sizeof(recs));
	if (arc_store_name(a->store, src, sha, &size, meta) < 0) {
		*err = pn_asprintf("cannot read the spooled message: %s", strerror(errno));
		arc_meta_free(meta);
		return -1;
	}
	arc_meta_fill(meta, d);
	pn_free(d->sha256);
	d->sha256 = pn_strdup(sha);
	d->size = size;
	if (d->time <= 0)
		d->time = (long long)time(NULL);
	pn_free(d->id);
	d->id = arc_new_id((time_t)d->time);
	inflight_begin(a, sha);
	if ((lock = arc_lock(a->lock_path, 0, a->busy_ms, &a->owner)) < 0) {
		*err = pn_asprintf("cannot lock %s: %s", a->lock_path, strerror(errno));
		goto done;
	}
	if (store_object(a, src, sha, size, d->time, &obj, &rec_obj, &dedup, err) < 0)
		goto done;
	d->stored_size = obj.stored_size;
	if (rec_obj) {
		recs[n].type = ARC_REC_OBJECT;
		recs[n++].object = obj;
	}
	recs[n].type = ARC_REC_DELIVERY;
	recs[n++].delivery = d;
	if (arc_journal_append(a->journal, recs, n, err) < 0)
		goto done;
	if (rec_obj)
		seen_put(a, &obj);
	/* before another writer of the same message looks for its object */
	arc_indexer_journaled(a->indexer, d->time, rec_obj ? &obj : NULL, d->id, a->await_outcome,
			      a->fulltext >= 2 ? arc_meta_text(meta, NULL) : NULL, text_needed);
	rc = 0;
done:
	arc_unlock(lock);
	inflight_end(a, sha);
	arc_meta_free(meta);
	if (rc == 0) {
		snprintf(res->id, sizeof(res->id), "%s", d->id);
		memcpy(res->sha256, sha, 65);
		res->dedup = dedup;
		res->size = size;
		res->stored_size = obj.stored_size;
		wake_indexer(a);
	}
	return rc;
}

/* arc_archive_outcome - the MTA's answer to a journaled delivery */
int arc_archive_outcome(arc_archive *a, const char *id, long long when, int accepted,
			const char *reason, char **err)
{
	int rc = 0;

	*err = NULL;
	if (!accepted) {
		arc_record v;
		memset(&v, 0, sizeof(v));
		v.type = ARC_REC_VOID;
		v.id = (char *)id;
		v.time = when;	/* the delivery's day file */
		v.reason = (char *)(reason ? reason : "refused after archiving");
		rc = arc_journal_append(a->journal, &v, 1, err);
		if (rc == 0)
			arc_indexer_journaled(a->indexer, when, NULL, NULL, 0, NULL, 0);
	}
	arc_indexer_settle(a->indexer, id, !accepted && rc == 0);
	wake_indexer(a);
	return rc;
}

/* arc_archive_sync - bring the index up to date with the journal now */
int arc_archive_sync(arc_archive *a, char **err)
{
	return arc_indexer_run(a->indexer, 1, NULL, err);
}

typedef struct text_ctx {
	arc_meta *meta;
} text_ctx;

/* feed_meta - decoded message bytes into the parser */
static int feed_meta(void *ctx, const void *data, size_t len)
{
	arc_meta_feed(((text_ctx *)ctx)->meta, data, len);
	return 0;
}

/* arc_archive_text - full text of a plain object, for catch-up and reindex */
char *arc_archive_text(void *ctx, const arc_delivery *d)
{
	arc_archive *a = ctx;
	text_ctx t;
	char *err = NULL, *out = NULL;
	int enc;

	if (a->fulltext < 2 || arc_store_find(a->store, d->sha256, NULL, &enc) < 0
	    || (enc && a->key == NULL))
		return NULL;
	t.meta = arc_meta_new(a->fulltext_max);
	if (arc_store_read(a->store, d->sha256, a->key, feed_meta, &t, &err) == 0) {
		arc_meta_finish(t.meta);
		out = pn_strdup(arc_meta_text(t.meta, NULL));
	}
	pn_free(err);
	arc_meta_free(t.meta);
	return out;
}

/* arc_archive_serve - the serving worker: with several hosts, the indexer
 * starts now and its first pass takes every day file */
void arc_archive_serve(arc_archive *a)
{
	char *why = NULL;

	if (!a->shared || !a->indexer_thread)
		return;
	arc_indexer_catch_up_later(a->indexer);
	if (arc_indexer_start(a->indexer, &why) < 0) {
		pn_warn("%s: %s", a->dir, why);
		pn_free(why);
	}
}

/* arc_archive_maintenance_lock - one maintenance tool at a time, on any host */
int arc_archive_maintenance_lock(arc_archive *a)
{
	int fd = arc_lock(a->maint_lock_path, 1, a->busy_ms, &a->owner);
	char *why = NULL;
	PGconn *c;

	if (fd < 0 || !a->shared)
		return fd;
	/* the lock file may not be shared (a directory mounted per host):
	 * the database's lock is what every host sees */
	if ((c = pn_pg_connect(a->index_connection, &why)) == NULL
	    || pn_pg_lock(c, MAINT_LOCK_NAME, &why) < 0) {
		pn_warn("%s: cannot take the maintenance lock of the database: %s", a->dir, why);
		pn_free(why);
		a->maint_unreachable = c == NULL;
		if (c)
			PQfinish(c);
		arc_unlock(fd);
		errno = ENOLCK;
		return -1;
	}
	a->maint_pg = c;
	return fd;
}

/* arc_archive_maintenance_unlock - release what the maintenance lock took */
void arc_archive_maintenance_unlock(arc_archive *a, int fd)
{
	if (a->maint_pg) {
		pn_pg_unlock(a->maint_pg, MAINT_LOCK_NAME);
		PQfinish(a->maint_pg);
		a->maint_pg = NULL;
	}
	arc_unlock(fd);
}

typedef struct catch_up_ctx {
	arc_archive *a;
	arc_text_fn text;
	void *text_ctx;
	size_t applied;
} catch_up_ctx;

/* catch_up_one - one host's journal into the index */
static int catch_up_one(void *ctx, arc_journal *j, char **err)
{
	catch_up_ctx *c = ctx;
	size_t n = 0;

	if (arc_index_catch_up(c->a->index, j, c->text, c->text_ctx, &n, err) < 0)
		return -1;
	c->applied += n;
	return 0;
}

/* arc_archive_catch_up_all - every host's journal into the index */
int arc_archive_catch_up_all(arc_archive *a, arc_text_fn text, void *ctx, size_t *applied,
			     char **err)
{
	catch_up_ctx c = {a, text, ctx, 0};
	int rc = arc_archive_each_journal(a, catch_up_one, &c, err);

	if (applied)
		*applied = c.applied;
	return rc;
}

/* arc_archive_each_journal - fn for this host's journal, then the others' */
int arc_archive_each_journal(arc_archive *a, arc_journals_fn fn, void *ctx, char **err)
{
	return arc_journals_each(a->dir, a->journal, &a->owner, a->busy_ms, fn, ctx, err);
}
