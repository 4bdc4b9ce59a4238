/* SPDX-License-Identifier: BSD-2-Clause */
/* index - SQLite cache of the journal: deliveries, recipients, full text; a
 * handle from arc_index_open_pg() hands every call to index_pg.c (see index.h) */
#include "milters/archive/index.h"
#include "milters/archive/index_pg.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 2000		/* records applied per transaction in catch-up */

#define CACHED_MAX 16	/* statements of the write path kept prepared */

struct arc_index {
	arc_pgindex *pg;	/* PostgreSQL: every call goes there (index_pg.c) */
	sqlite3 *db;
	pthread_mutex_t lock;
	int fulltext;
	int readonly;
	struct {
		const char *sql;	/* a string constant: compared by address */
		sqlite3_stmt *st;
	} cached[CACHED_MAX];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT OR IGNORE INTO meta VALUES('format', '1');"
	"CREATE TABLE IF NOT EXISTS objects("
	" sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER NOT NULL,"
	" stored_sha256 TEXT NOT NULL, encrypted INTEGER NOT NULL, time INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS deliveries("
	" num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time INTEGER NOT NULL,"
	" queue_id TEXT NOT NULL, sha256 TEXT NOT NULL, mta TEXT NOT NULL,"
	" client_addr TEXT NOT NULL, client_name TEXT NOT NULL, helo TEXT NOT NULL,"
	" auth TEXT NOT NULL, direction TEXT NOT NULL, sender TEXT NOT NULL,"
	" hdr_from TEXT NOT NULL, hdr_to TEXT NOT NULL, hdr_cc TEXT NOT NULL,"
	" subject TEXT NOT NULL, message_id TEXT NOT NULL, hdr_date TEXT NOT NULL,"
	" size INTEGER NOT NULL, stored_size INTEGER NOT NULL, attachments TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries(time);"
	"CREATE INDEX IF NOT EXISTS deliveries_sha256 ON deliveries(sha256);"
	"CREATE INDEX IF NOT EXISTS deliveries_message_id ON deliveries(message_id);"
	"CREATE INDEX IF NOT EXISTS deliveries_queue_id ON deliveries(queue_id);"
	"CREATE TABLE IF NOT EXISTS recipients(delivery INTEGER NOT NULL, address TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS recipients_delivery ON recipients(delivery);"
	"CREATE INDEX IF NOT EXISTS recipients_address ON recipients(address);"
	"CREATE TABLE IF NOT EXISTS holds(id TEXT PRIMARY KEY, held INTEGER NOT NULL,"
	" usec INTEGER NOT NULL, reason TEXT NOT NULL, user TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS voids(id TEXT PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS journal_applied(file TEXT PRIMARY KEY,"
	" ino INTEGER NOT NULL, offset INTEGER NOT NULL);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS fulltext USING fts5(subject, body,"
	" tokenize = 'unicode61 remove_diacritics 2');";

/* The delivery columns, in the order row_delivery() reads them. */
#define DELIVERY_COLUMNS \
	"d.num, d.id, d.time, d.queue_id, d.sha256, d.mta, d.client_addr, d.client_name," \
	" d.helo, d.auth, d.direction, d.sender, d.hdr_from, d.hdr_to, d.hdr_cc, d.subject," \
	" d.message_id, d.hdr_date, d.size, d.stored_size, d.attachments," \
	" COALESCE((SELECT h.held FROM holds h WHERE h.id = d.id), 0)," \
	" COALESCE((SELECT h.reason FROM holds h WHERE h.id = d.id AND h.held), '')," \
	" COALESCE((SELECT o.encrypted FROM objects o WHERE o.sha256 = d.sha256), 0)"

/* db_error - SQLite's message for the last failure */
static char *db_error(arc_index *x, const char *what)
{
	return pn_asprintf("%s: %s", what, sqlite3_errmsg(x->db));
}

/* exec - run SQL without results */
static int exec(arc_index *x, const char *sql, char **err)
{
	char *msg = NULL;

	if (sqlite3_exec(x->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (err)
			*err = pn_asprintf("index: %s", msg ? msg : sqlite3_errmsg(x->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* has_schema - whether the tables exist (then opening needs no write lock) */
static int has_schema(arc_index *x)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(x->db, "SELECT value FROM meta WHERE key = 'format'", -1, &st,
			       NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

/* arc_index_open - open or create the index */
arc_index *arc_index_open(const char *path, int fulltext, long busy_ms, const arc_owner *o,
			  char **err)
{
	arc_index *x = pn_calloc(1, sizeof(*x));
	pthread_mutexattr_t attr;
	struct stat st;
	int existed = stat(path, &st) == 0;

	x->fulltext = fulltext;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&x->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (sqlite3_open_v2(path, &x->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			    | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK
	    || (existed && access(path, W_OK) < 0)) {
		/* no write access: an auditor may still search */
		sqlite3_close(x->db);
		x->db = NULL;
		if (!existed || sqlite3_open_v2(path, &x->db, SQLITE_OPEN_READONLY
						| SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
			*err = pn_asprintf("cannot open index %s: %s", path,
					   x->db ? sqlite3_errmsg(x->db) : strerror(errno));
			arc_index_close(x);
			return NULL;
		}
		x->readonly = 1;
	}
	if (!existed) {
		/* subjects and text are in there: no more than the archive's own mode */
		chmod(path, 0640);
		arc_owner_path(o, path);
	}
	sqlite3_busy_timeout(x->db, busy_ms > 0x7fffffff ? 0x7fffffff : (int)busy_ms);
	sqlite3_extended_result_codes(x->db, 1);
	if (!x->readonly && (exec(x, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err) < 0
			     || (!has_schema(x) && exec(x, schema, err) < 0))) {
		arc_index_close(x);
		return NULL;
	}
	return x;
}

/* arc_index_open_pg - the index in PostgreSQL; connects at first use */
arc_index *arc_index_open_pg(const char *conninfo, int fulltext, char **err)
{
	arc_index *x;

	if (conninfo == NULL || *conninfo == '\0') {
		*err = pn_strdup("index = postgresql wants index_connection (a libpq connection"
				 " string)");
		return NULL;
	}
	x = pn_calloc(1, sizeof(*x));
	x->fulltext = fulltext;
	pthread_mutex_init(&x->lock, NULL);
	x->pg = arc_pgindex_open(conninfo, fulltext);
	return x;
}

/* arc_index_shared - whether hosts share this index (PostgreSQL) */
int arc_index_shared(const arc_index *x)
{
	return x != NULL && x->pg != NULL;
}

/* arc_index_unreachable - whether the server could not be reached */
int arc_index_unreachable(arc_index *x)
{
	return arc_index_shared(x) && arc_pgindex_unreachable(x->pg);
}

/* arc_index_close - close the database */
void arc_index_close(arc_index *x)
{
	int i;

	if (x == NULL)
		return;
	arc_pgindex_close(x->pg);
	for (i = 0; i < CACHED_MAX; i++)
		sqlite3_finalize(x->cached[i].st);
	if (x->db)
		sqlite3_close(x->db);
	pthread_mutex_destroy(&x->lock);
	pn_free(x);
}

/* prepare - a statement, or NULL with *err */
static sqlite3_stmt *prepare(arc_index *x, const char *sql, char **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(x->db, sql, -1, &st, NULL) != SQLITE_OK) {
		if (err)
			*err = db_error(x, "index");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* stmt - a kept prepared statement for constant sql, ready to bind: the
 * indexer runs the same few statements for every record */
static sqlite3_stmt *stmt(arc_index *x, const char *sql, char **err)
{
	int i;

	for (i = 0; i < CACHED_MAX && x->cached[i].sql; i++)
		if (x->cached[i].sql == sql)
			return x->cached[i].st;
	if (i == CACHED_MAX)
		return prepare(x, sql, err);	/* not kept: done() finalizes it */
	if ((x->cached[i].st = prepare(x, sql, err)) == NULL)
		return NULL;
	x->cached[i].sql = sql;
	return x->cached[i].st;
}

/* done - a statement from stmt() is reset for its next use */
static void done(arc_index *x, sqlite3_stmt *st)
{
	int i;

	for (i = 0; i < CACHED_MAX && x->cached[i].sql; i++) {
		if (x->cached[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

/* bind_text - bind a C string (NULL as "") */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

/* step_done - run a statement that returns no rows; 0 or -1 */
static int step_done(arc_index *x, sqlite3_stmt *st, char **err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (err && *err == NULL)
			*err = db_error(x, "index");
		return -1;
	}
	return 0;
}

/* insert_object - the object row, unless present */
static int insert_object(arc_index *x, const arc_object *o, char **err)
{
	/* a newer record of the same object (stored again after a loss) wins;
	 * the record the row came from changes nothing, so catch-up at start
	 * does not count (and rewrite) what the daemon indexed already */
	sqlite3_stmt *st = stmt(x, "INSERT INTO objects(sha256, size, stored_size,"
				   " stored_sha256, encrypted, time) VALUES(?, ?, ?, ?, ?, ?)"
				   " ON CONFLICT(sha256) DO UPDATE SET size = excluded.size,"
				   " stored_size = excluded.stored_size,"
				   " stored_sha256 = excluded.stored_sha256,"
				   " encrypted = excluded.encrypted, time = excluded.time"
				   " WHERE excluded.time >= objects.time"
				   " AND (excluded.size, excluded.stored_size, excluded.stored_sha256,"
				   " excluded.encrypted, excluded.time) IS NOT (objects.size,"
				   " objects.stored_size, objects.stored_sha256, objects.encrypted,"
				   " objects.time)", err);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, o->sha256);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)o->size);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)o->stored_size);
	bind_text(st, 4, o->stored_sha256);
	sqlite3_bind_int(st, 5, o->encrypted);
	sqlite3_bind_int64(st, 6, o->time);
	rc = step_done(x, st, err);
	done(x, st);
	return rc;
}

/* insert_delivery - delivery, recipients and full text; *num = 0 when it was there */
static int insert_delivery(arc_index *x, const arc_delivery *d, const char *text,
			   long long *num, char **err)
{
	sqlite3_stmt *st;
	char *att;
	size_t i;
	int rc;

	*num = 0;
	st = stmt(x, "SELECT 1 FROM voids WHERE id = ?", err);
	if (st == NULL)
		return -1;
	bind_text(st, 1, d->id);
	rc = sqlite3_step(st);
	done(x, st);
	if (rc == SQLITE_ROW)
		return 0;	/* voided: never insert it */
	st = stmt(x, "INSERT OR IGNORE INTO deliveries(id, time, queue_id, sha256, mta,"
		     " client_addr, client_name, helo, auth, direction, sender, hdr_from, hdr_to,"
		     " hdr_cc, subject, message_id, hdr_date, size, stored_size, attachments)"
		     " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", err);
	if (st == NULL)
		return -1;
	att = arc_join_lines(d->attachments, d->nattachments);
	bind_text(st, 1, d->id);
	sqlite3_bind_int64(st, 2, d->time);
	bind_text(st, 3, d->queue_id);
	bind_text(st, 4, d->sha256);
	bind_text(st, 5, d->mta);
	bind_text(st, 6, d->client_addr);
	bind_text(st, 7, d->client_name);
	bind_text(st, 8, d->helo);
	bind_text(st, 9, d->auth);
	bind_text(st, 10, d->direction);
	bind_text(st, 11, d->sender);
	bind_text(st, 12, d->hdr_from);
	bind_text(st, 13, d->hdr_to);
	bind_text(st, 14, d->hdr_cc);
	bind_text(st, 15, d->subject);
	bind_text(st, 16, d->message_id);
	bind_text(st, 17, d->hdr_date);
	sqlite3_bind_int64(st, 18, (sqlite3_int64)d->size);
	sqlite3_bind_int64(st, 19, (sqlite3_int64)d->stored_size);
	bind_text(st, 20, att);
	rc = step_done(x, st, err);
	done(x, st);
	pn_free(att);
	if (rc < 0 || sqlite3_changes(x->db) == 0)
		return rc;	/* already there: catch-up was first */
	*num = (long long)sqlite3_last_insert_rowid(x->db);
	st = stmt(x, "INSERT INTO recipients(delivery, address) VALUES(?, ?)", err);
	if (st == NULL)
		return -1;
	for (i = 0; i < d->nrcpts && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, *num);
		bind_text(st, 2, d->rcpts[i]);
		rc = step_done(x, st, err);
	}
	done(x, st);
	if (rc < 0 || x->fulltext == 0)
		return rc;
	st = stmt(x, "INSERT INTO fulltext(rowid, subject, body) VALUES(?, ?, ?)", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, *num);
	bind_text(st, 2, d->subject);
	bind_text(st, 3, x->fulltext >= 2 ? text : "");
	rc = step_done(x, st, err);
	done(x, st);
	return rc;
}

/* begin - start a write transaction (waits busy_ms for other writers) */
static int begin(arc_index *x, char **err)
{
	if (x->readonly) {
		*err = pn_strdup("index is read-only for this user");
		return -1;
	}
	return exec(x, "BEGIN IMMEDIATE", err);
}

/* finish - commit, or roll back after a failure */
static int finish(arc_index *x, int rc, char **err)
{
	if (rc == 0 && exec(x, "COMMIT", err) == 0)
		return 0;
	exec(x, "ROLLBACK", NULL);
	return -1;
}

/* arc_index_object - an object's row */
int arc_index_object(arc_index *x, const char *sha, arc_object *obj)
{
	sqlite3_stmt *st;
	int rc;

	if (x->pg)
		return arc_pgindex_object(x->pg, sha, obj);
	pthread_mutex_lock(&x->lock);
	st = stmt(x, "SELECT size, stored_size, stored_sha256, encrypted, time FROM objects"
		     " WHERE sha256 = ?", NULL);
	if (st == NULL) {
		pthread_mutex_unlock(&x->lock);
		return -1;
	}
	bind_text(st, 1, sha);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *ss = (const char *)sqlite3_column_text(st, 2);
		memset(obj, 0, sizeof(*obj));
		snprintf(obj->sha256, sizeof(obj->sha256), "%s", sha);
		obj->size = (unsigned long long)sqlite3_column_int64(st, 0);
		obj->stored_size = (unsigned long long)sqlite3_column_int64(st, 1);
		snprintf(obj->stored_sha256, sizeof(obj->stored_sha256), "%s", ss ? ss : "");
		obj->encrypted = sqlite3_column_int(st, 3);
		obj->time = sqlite3_column_int64(st, 4);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 1 : -1;
	}
	done(x, st);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* delete_one - a delivery with its recipients and full-text row */
static int delete_one(arc_index *x, const char *id, char **err)
{
	static const char *const sql[] = {
		"DELETE FROM recipients WHERE delivery = (SELECT num FROM deliveries WHERE id = ?1)",
		"DELETE FROM fulltext WHERE rowid = (SELECT num FROM deliveries WHERE id = ?1)",
		"DELETE FROM deliveries WHERE id = ?1",
		"DELETE FROM holds WHERE id = ?1 AND held = 0",
	};
	size_t i;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st = stmt(x, sql[i], err);
		int rc;
		if (st == NULL)
			return -1;
		bind_text(st, 1, id);
		rc = step_done(x, st, err);
		done(x, st);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* apply_hold - latest event wins, whatever order events arrive in */
static int apply_hold(arc_index *x, const arc_record *r, char **err)
{
	sqlite3_stmt *st = prepare(x, "INSERT INTO holds(id, held, usec, reason, user)"
				   " VALUES(?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
				   " held = excluded.held, usec = excluded.usec,"
				   " reason = excluded.reason, user = excluded.user"
				   " WHERE excluded.usec > holds.usec", err);
	size_t i;
	int rc = 0, changed = 0;

	if (st == NULL)
		return -1;
	for (i = 0; i < r->nids && rc == 0; i++) {
		sqlite3_reset(st);
		bind_text(st, 1, r->ids[i]);
		sqlite3_bind_int(st, 2, r->type == ARC_REC_HOLD);
		sqlite3_bind_int64(st, 3, r->usec);
		bind_text(st, 4, r->reason);
		bind_text(st, 5, r->user);
		rc = step_done(x, st, err);
		changed += sqlite3_changes(x->db);
	}
	sqlite3_finalize(st);
	return rc < 0 ? -1 : changed > 0;
}

/* known_delivery - 1 when a delivery is indexed or voided, 0 if not, -1 on error */
static int known_delivery(arc_index *x, const char *id, char **err)
{
	sqlite3_stmt *st = stmt(x, "SELECT 1 FROM deliveries WHERE id = ?1"
				   " UNION ALL SELECT 1 FROM voids WHERE id = ?1", err);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	done(x, st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	if (err && *err == NULL)
		*err = db_error(x, "index");
	return -1;
}

/* apply - one journal record: -1 error, 0 nothing new, 1 the index changed */
static int apply(arc_index *x, const arc_record *r, arc_text_fn text, void *ctx, char **err)
{
	sqlite3_stmt *st;
	long long num;
	int rc;

	switch (r->type) {
	case ARC_REC_OBJECT:
		if (insert_object(x, &r->object, err) < 0)
			return -1;
		return sqlite3_changes(x->db) > 0;
	case ARC_REC_DELIVERY: {
		char *t = NULL;
		/* the text only for a delivery about to be inserted: one full-text
		 * write, and no object read for what the index has already */
		if (text && x->fulltext >= 2) {
			if ((rc = known_delivery(x, r->delivery->id, err)) != 0)
				return rc < 0 ? -1 : 0;
			t = text(ctx, r->delivery);
		}
		rc = insert_delivery(x, r->delivery, t, &num, err);
		pn_free(t);
		if (rc < 0)
			return -1;
		return num != 0;
	}
	case ARC_REC_VOID:
		if ((st = stmt(x, "INSERT OR IGNORE INTO voids(id) VALUES(?)", err)) == NULL)
			return -1;
		bind_text(st, 1, r->id);
		rc = step_done(x, st, err);
		done(x, st);
		if (rc < 0)
			return -1;
		rc = sqlite3_changes(x->db) > 0;
		return delete_one(x, r->id, err) < 0 ? -1 : rc;
	case ARC_REC_HOLD:
	case ARC_REC_RELEASE:
		return apply_hold(x, r, err);
	}
	return 0;
}

/* arc_index_apply - one record in its own transaction */
int arc_index_apply(arc_index *x, const arc_record *r, char **err)
{
	int rc;

	if (x->pg)
		return arc_pgindex_apply(x->pg, r, err);
	*err = NULL;
	pthread_mutex_lock(&x->lock);
	rc = begin(x, err);
	if (rc == 0)
		rc = finish(x, apply(x, r, NULL, NULL, err) < 0 ? -1 : 0, err);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

typedef struct catch_ctx {
	arc_index *x;
	arc_text_fn text;
	void *ctx;
	arc_hold_fn hold;
	void *hold_ctx;
	size_t applied, in_batch, held;
	char *err;
} catch_ctx;

/* catch_record - apply one record, committing every BATCH records */
static int catch_record(void *ctx, const arc_record *r, const char *line, size_t len)
{
	catch_ctx *c = ctx;

	(void)line; (void)len;
	if (r == NULL)
		return 0;	/* a damaged line: verify reports it */
	if (c->hold && c->hold(c->hold_ctx, r)) {
		c->held++;
		return -1;	/* not an error: the file is applied up to here */
	}
	switch (apply(c->x, r, c->text, c->ctx, &c->err)) {
	case -1:
		return -1;
	case 1:
		c->applied++;
		break;
	}
	if (++c->in_batch >= BATCH) {
		/* let the daemon's writes in between batches */
		c->in_batch = 0;
		if (exec(c->x, "COMMIT", &c->err) < 0 || exec(c->x, "BEGIN IMMEDIATE", &c->err) < 0)
			return -1;
	}
	return 0;
}

/* applied_pos - how far a journal file has been applied */
static int applied_pos(arc_index *x, const char *name, long long *ino, long long *off)
{
	sqlite3_stmt *st = stmt(x, "SELECT ino, offset FROM journal_applied WHERE file = ?", NULL);
	int rc;

	*ino = -1;
	*off = 0;
	if (st == NULL)
		return -1;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ino = sqlite3_column_int64(st, 0);
		*off = sqlite3_column_int64(st, 1);
	}
	done(x, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* catch_up_file - apply what is new in one day file */
static int catch_up_file(arc_index *x, arc_journal *j, const char *dir, const char *name,
			 catch_ctx *c)
{
	char *path = pn_asprintf("%s/%s", dir, name);
	struct stat st;
	long long ino, off;
	arc_journal_pos end;
	sqlite3_stmt *up;
	int rc;

	if (stat(path, &st) < 0 || applied_pos(x, name, &ino, &off) < 0) {
		pn_free(path);
		return 0;	/* vanished meanwhile, or nothing to learn */
	}
	pn_free(path);
	if (ino == (long long)st.st_ino && off >= (long long)st.st_size)
		return 0;	/* nothing new: no write transaction at all */
	if (begin(x, &c->err) < 0)
		return -1;
	/* another process may have advanced meanwhile */
	if (applied_pos(x, name, &ino, &off) < 0)
		return finish(x, -1, &c->err);
	if (ino != (long long)st.st_ino)
		off = 0;
	c->in_batch = 0;
	rc = arc_journal_read(j, name, off, catch_record, c, &end);
	if (rc < 0 && c->err == NULL)
		c->err = pn_asprintf("cannot read journal file %s: %s", name, strerror(errno));
	if (rc == 0 && c->err == NULL) {
		if ((up = stmt(x, "INSERT INTO journal_applied(file, ino, offset) VALUES(?, ?, ?)"
				  " ON CONFLICT(file) DO UPDATE SET ino = excluded.ino,"
				  " offset = excluded.offset", &c->err)) == NULL)
			return finish(x, -1, &c->err);
		bind_text(up, 1, name);
		sqlite3_bind_int64(up, 2, (sqlite3_int64)end.ino);
		sqlite3_bind_int64(up, 3, end.offset);
		rc = step_done(x, up, &c->err);
		done(x, up);
	}
	return finish(x, c->err ? -1 : rc, &c->err);
}

/* arc_index_catch_up - apply every journal record the index has not seen */
int arc_index_catch_up(arc_index *x, arc_journal *j, arc_text_fn text, void *ctx,
		       size_t *applied, char **err)
{
	arc_catch_up how;

	memset(&how, 0, sizeof(how));
	how.text = text;
	how.text_ctx = ctx;
	return arc_index_catch_up_with(x, j, &how, applied, err);
}

/* arc_index_catch_up_with - catch-up of some day files, held back where told */
int arc_index_catch_up_with(arc_index *x, arc_journal *j, arc_catch_up *how, size_t *applied,
			    char **err)
{
	catch_ctx c = {x, how->text, how->text_ctx, how->hold, how->hold_ctx, 0, 0, 0, NULL};
	char **names = how->files;
	const char *dir;
	size_t n = how->nfiles, i;
	int rc = 0;

	if (x->pg)
		return arc_pgindex_catch_up_with(x->pg, j, how, applied, err);
	*err = NULL;
	how->held = 0;
	if (applied)
		*applied = 0;
	if (x->readonly)
		return 0;
	if (names == NULL && arc_journal_files(j, &names, &n) < 0) {
		*err = pn_asprintf("cannot list the journal: %s", strerror(errno));
		return -1;
	}
	dir = arc_journal_dir(j);
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < n && rc == 0; i++)
		rc = catch_up_file(x, j, dir, names[i], &c);
	pthread_mutex_unlock(&x->lock);
	if (how->files == NULL)
		arc_journal_files_free(names, n);
	if (applied)
		*applied = c.applied;
	how->held = c.held;
	*err = c.err;
	return rc;
}

/* arc_index_reset - forget everything (reindex starts from nothing) */
int arc_index_reset(arc_index *x, char **err)
{
	int rc;

	if (x->pg)
		return arc_pgindex_reset(x->pg, err);
	*err = NULL;
	pthread_mutex_lock(&x->lock);
	rc = begin(x, err);
	if (rc == 0)
		rc = finish(x, exec(x, "DELETE FROM deliveries; DELETE FROM recipients;"
				    " DELETE FROM objects; DELETE FROM holds; DELETE FROM voids;"
				    " DELETE FROM journal_applied; DELETE FROM fulltext;", err), err);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* arc_index_set_text - (re)write a delivery's full-text row */
int arc_index_set_text(arc_index *x, long long rowid, const char *subject, const char *text)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (x->pg)
		return arc_pgindex_set_text(x->pg, rowid, subject, text);
	if (x->fulltext == 0)
		return 0;
	pthread_mutex_lock(&x->lock);
	if ((st = prepare(x, "DELETE FROM fulltext WHERE rowid = ?", NULL)) != NULL) {
		sqlite3_bind_int64(st, 1, rowid);
		rc = step_done(x, st, NULL);
		sqlite3_finalize(st);
	}
	if (rc == 0 && (st = prepare(x, "INSERT INTO fulltext(rowid, subject, body)"
				     " VALUES(?, ?, ?)", NULL)) != NULL) {
		sqlite3_bind_int64(st, 1, rowid);
		bind_text(st, 2, subject);
		bind_text(st, 3, x->fulltext >= 2 ? text : "");
		rc = step_done(x, st, NULL);
		sqlite3_finalize(st);
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* col - a text column as a new string */
static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return pn_strdup(s ? (const char *)s : "");
}

/* set_col - replace a delivery field by a column */
static void set_col(char **field, sqlite3_stmt *st, int i)
{
	pn_free(*field);
	*field = col(st, i);
}

/* row_delivery - a delivery from a DELIVERY_COLUMNS row, recipients included */
static arc_delivery *row_delivery(arc_index *x, sqlite3_stmt *st, arc_row *row)
{
	arc_delivery *d = arc_delivery_new();
	sqlite3_stmt *r;
	char *att, *p, *nl;

	memset(row, 0, sizeof(*row));
	row->rowid = sqlite3_column_int64(st, 0);
	set_col(&d->id, st, 1);
	d->time = sqlite3_column_int64(st, 2);
	set_col(&d->queue_id, st, 3);
	set_col(&d->sha256, st, 4);
	set_col(&d->mta, st, 5);
	set_col(&d->client_addr, st, 6);
	set_col(&d->client_name, st, 7);
	set_col(&d->helo, st, 8);
	set_col(&d->auth, st, 9);
	set_col(&d->direction, st, 10);
	set_col(&d->sender, st, 11);
	set_col(&d->hdr_from, st, 12);
	set_col(&d->hdr_to, st, 13);
	set_col(&d->hdr_cc, st, 14);
	set_col(&d->subject, st, 15);
	set_col(&d->message_id, st, 16);
	set_col(&d->hdr_date, st, 17);
	d->size = (unsigned long long)sqlite3_column_int64(st, 18);
	d->stored_size = (unsigned long long)sqlite3_column_int64(st, 19);
	att = col(st, 20);
	for (p = att; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		arc_delivery_add_attachment(d, p);
		if (nl == NULL)
			break;
	}
	pn_free(att);
	row->held = sqlite3_column_int(st, 21);
	row->hold_reason = col(st, 22);
	row->encrypted = sqlite3_column_int(st, 23);
	r = prepare(x, "SELECT address FROM recipients WHERE delivery = ? ORDER BY rowid", NULL);
	if (r) {
		sqlite3_bind_int64(r, 1, row->rowid);
		while (sqlite3_step(r) == SQLITE_ROW) {
			const unsigned char *a = sqlite3_column_text(r, 0);
			arc_delivery_add_rcpt(d, a ? (const char *)a : "");
		}
		sqlite3_finalize(r);
	}
	return d;
}

/* Bound values of a query, in order. */
typedef struct binds {
	struct {
		int is_int;
		long long i;
		char *s;
	} v[64];
	int n;
} binds;

/* bind_s - one more text parameter */
static void bind_s(binds *b, char *s)
{
	if (b->n < 64) {
		b->v[b->n].is_int = 0;
		b->v[b->n++].s = s;
	} else {
		pn_free(s);
	}
}

/* bind_i - one more integer parameter */
static void bind_i(binds *b, long long i)
{
	if (b->n < 64) {
		b->v[b->n].is_int = 1;
		b->v[b->n].s = NULL;
		b->v[b->n++].i = i;
	}
}

/* build_where - the WHERE clause of a query; -1 with *err for a bad key */
static int build_where(const arc_query *q, pn_buf *sql, binds *b, char **err)
{
	size_t i;

	pn_buf_puts(sql, " WHERE 1");
	if (q->from) {
		pn_buf_puts(sql, " AND (d.sender LIKE ? ESCAPE '\\' OR d.hdr_from LIKE ? ESCAPE '\\')");
		bind_s(b, arc_like_pattern(q->from));
		bind_s(b, arc_like_pattern(q->from));
	}
	if (q->to) {
		pn_buf_puts(sql, " AND (d.hdr_to LIKE ? ESCAPE '\\' OR d.hdr_cc LIKE ? ESCAPE '\\'"
			    " OR EXISTS (SELECT 1 FROM recipients r WHERE r.delivery = d.num"
			    " AND r.address LIKE ? ESCAPE '\\'))");
		bind_s(b, arc_like_pattern(q->to));
		bind_s(b, arc_like_pattern(q->to));
		bind_s(b, arc_like_pattern(q->to));
	}
	if (q->subject) {
		pn_buf_puts(sql, " AND d.subject LIKE ? ESCAPE '\\'");
		bind_s(b, arc_like_pattern(q->subject));
	}
	if (q->attachment) {
		pn_buf_puts(sql, " AND d.attachments LIKE ? ESCAPE '\\'");
		bind_s(b, arc_like_pattern(q->attachment));
	}
	if (q->text) {
		pn_buf_puts(sql, " AND d.num IN (SELECT rowid FROM fulltext WHERE fulltext MATCH ?)");
		bind_s(b, arc_fts_phrase(q->text));
	}
	if (q->message_id) {
		pn_buf_puts(sql, " AND d.message_id = ?");
		bind_s(b, pn_strdup(q->message_id));
	}
	if (q->since >= 0) {
		pn_buf_puts(sql, " AND d.time >= ?");
		bind_i(b, q->since);
	}
	if (q->until >= 0) {
		pn_buf_puts(sql, " AND d.time < ?");
		bind_i(b, q->until);
	}
	if (q->larger >= 0) {
		pn_buf_puts(sql, " AND d.size > ?");
		bind_i(b, q->larger);
	}
	if (q->held_only)
		pn_buf_puts(sql, " AND EXISTS (SELECT 1 FROM holds h WHERE h.id = d.id AND h.held)");
	if (q->nkeys > 40) {
		*err = pn_strdup("too many ids in one query (at most 40)");
		return -1;
	}
	for (i = 0; i < q->nkeys; i++) {
		pn_buf_puts(sql, i == 0 ? " AND (" : " OR ");
		switch (arc_key_classify(q->keys[i])) {
		case ARC_KEY_ID:
			pn_buf_puts(sql, "d.id = ?");
			bind_s(b, pn_strdup(q->keys[i]));
			break;
		case ARC_KEY_SHA256:
			pn_buf_puts(sql, "d.sha256 = ?");
			bind_s(b, pn_strdup(q->keys[i]));
			break;
		case ARC_KEY_SHA_PREFIX:
			pn_buf_puts(sql, "d.sha256 LIKE ?");
			bind_s(b, pn_asprintf("%s%%", q->keys[i]));
			break;
		case ARC_KEY_MESSAGE_ID:
			pn_buf_puts(sql, "d.message_id = ?");
			bind_s(b, arc_message_id_normal(q->keys[i]));
			break;
		case ARC_KEY_BAD:
			*err = pn_asprintf("\"%s\" is neither a delivery id, a SHA-256 nor a Message-ID",
					   q->keys[i]);
			return -1;
		}
		if (i + 1 == q->nkeys)
			pn_buf_putc(sql, ')');
	}
	return 0;
}

/* free_binds - release bound strings */
static void free_binds(binds *b)
{
	int i;

	for (i = 0; i < b->n; i++)
		pn_free(b->v[i].s);
}

/* run_rows - step a DELIVERY_COLUMNS statement, calling fn per row */
static int run_rows(arc_index *x, sqlite3_stmt *st, arc_row_fn fn, void *ctx, char **err)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		arc_row row;
		arc_delivery *d = row_delivery(x, st, &row);
		int stop = fn(ctx, d, &row) < 0;
		arc_delivery_free(d);
		pn_free(row.hold_reason);
		if (stop)
			return 0;
	}
	if (rc != SQLITE_DONE) {
		*err = db_error(x, "index");
		return -1;
	}
	return 0;
}

/* arc_index_search - every delivery a query selects, oldest first */
int arc_index_search(arc_index *x, const arc_query *q, arc_row_fn fn, void *ctx, char **err)
{
	pn_buf sql;
	binds b;
	sqlite3_stmt *st = NULL;
	int i, rc = -1;

	if (x->pg)
		return arc_pgindex_search(x->pg, q, fn, ctx, err);
	*err = NULL;
	memset(&b, 0, sizeof(b));
	pn_buf_init(&sql, 0);
	pn_buf_puts(&sql, "SELECT " DELIVERY_COLUMNS " FROM deliveries d");
	pthread_mutex_lock(&x->lock);
	if (build_where(q, &sql, &b, err) < 0)
		goto done;
	pn_buf_puts(&sql, " ORDER BY d.time, d.num");
	if ((st = prepare(x, pn_buf_str(&sql), err)) == NULL)
		goto done;
	for (i = 0; i < b.n; i++) {
		if (b.v[i].is_int)
			sqlite3_bind_int64(st, i + 1, b.v[i].i);
		else
			bind_text(st, i + 1, b.v[i].s);
	}
	rc = run_rows(x, st, fn, ctx, err);
done:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&x->lock);
	free_binds(&b);
	pn_buf_free(&sql);
	return rc;
}

/* one_int - the single integer a query returns */
static long long one_int(arc_index *x, const char *sql)
{
	sqlite3_stmt *st = prepare(x, sql, NULL);
	long long v = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* arc_index_stats - counts and sizes */
int arc_index_stats(arc_index *x, arc_stats *s)
{
	if (x->pg)
		return arc_pgindex_stats(x->pg, s);
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&x->lock);
	s->deliveries = one_int(x, "SELECT count(*) FROM deliveries");
	s->objects = one_int(x, "SELECT count(*) FROM objects");
	s->encrypted_objects = one_int(x, "SELECT count(*) FROM objects WHERE encrypted");
	s->held = one_int(x, "SELECT count(*) FROM holds h WHERE held"
			  " AND EXISTS (SELECT 1 FROM deliveries d WHERE d.id = h.id)");
	s->recipients = one_int(x, "SELECT count(*) FROM recipients");
	s->message_bytes = one_int(x, "SELECT COALESCE(sum(size), 0) FROM deliveries");
	s->object_bytes = one_int(x, "SELECT COALESCE(sum(size), 0) FROM objects");
	s->stored_bytes = one_int(x, "SELECT COALESCE(sum(stored_size), 0) FROM objects");
	s->oldest = one_int(x, "SELECT COALESCE(min(time), 0) FROM deliveries");
	s->newest = one_int(x, "SELECT COALESCE(max(time), 0) FROM deliveries");
	pthread_mutex_unlock(&x->lock);
	return 0;
}

/* arc_index_each_object - every object row */
int arc_index_each_object(arc_index *x, arc_object_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	int rc;

	if (x->pg)
		return arc_pgindex_each_object(x->pg, fn, ctx);
	pthread_mutex_lock(&x->lock);
	st = prepare(x, "SELECT sha256, size, stored_size, stored_sha256, encrypted, time"
		     " FROM objects ORDER BY sha256", NULL);
	if (st == NULL) {
		pthread_mutex_unlock(&x->lock);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		arc_object o;
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *c = (const char *)sqlite3_column_text(st, 3);
		memset(&o, 0, sizeof(o));
		snprintf(o.sha256, sizeof(o.sha256), "%s", a ? a : "");
		o.size = (unsigned long long)sqlite3_column_int64(st, 1);
		o.stored_size = (unsigned long long)sqlite3_column_int64(st, 2);
		snprintf(o.stored_sha256, sizeof(o.stored_sha256), "%s", c ? c : "");
		o.encrypted = sqlite3_column_int(st, 4);
		o.time = sqlite3_column_int64(st, 5);
		if (fn(ctx, &o) < 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&x->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* arc_index_expired - deliveries older than before and not under hold */
int arc_index_expired(arc_index *x, long long before, arc_row_fn fn, void *ctx, char **err)
{
	sqlite3_stmt *st;
	int rc;

	if (x->pg)
		return arc_pgindex_expired(x->pg, before, fn, ctx, err);
	*err = NULL;
	pthread_mutex_lock(&x->lock);
	st = prepare(x, "SELECT " DELIVERY_COLUMNS " FROM deliveries d WHERE d.time < ?"
		     " AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.id = d.id AND h.held)"
		     " ORDER BY d.time, d.num", err);
	if (st == NULL) {
		pthread_mutex_unlock(&x->lock);
		return -1;
	}
	sqlite3_bind_int64(st, 1, before);
	rc = run_rows(x, st, fn, ctx, err);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* arc_index_delete - remove deliveries (prune) in one transaction */
int arc_index_delete(arc_index *x, char **ids, size_t n, char **err)
{
	size_t i;
	int rc;

	if (x->pg)
		return arc_pgindex_delete(x->pg, ids, n, err);
	*err = NULL;
	pthread_mutex_lock(&x->lock);
	rc = begin(x, err);
	if (rc == 0) {
		for (i = 0; rc == 0 && i < n; i++)
			rc = delete_one(x, ids[i], err);
		rc = finish(x, rc, err);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* arc_index_uses - how many deliveries use an object */
long long arc_index_uses(arc_index *x, const char *sha)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (x->pg)
		return arc_pgindex_uses(x->pg, sha);
	pthread_mutex_lock(&x->lock);
	st = prepare(x, "SELECT count(*) FROM deliveries WHERE sha256 = ?", NULL);
	if (st) {
		bind_text(st, 1, sha);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&x->lock);
	return n;
}

/* arc_index_delete_object - forget an object row */
int arc_index_delete_object(arc_index *x, const char *sha)
{
	sqlite3_stmt *st;
	int rc;

	if (x->pg)
		return arc_pgindex_delete_object(x->pg, sha);
	pthread_mutex_lock(&x->lock);
	st = prepare(x, "DELETE FROM objects WHERE sha256 = ?", NULL);
	rc = st ? 0 : -1;
	if (st) {
		bind_text(st, 1, sha);
		rc = step_done(x, st, NULL);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}
