/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger - the per-partner TLS counts in SQLite (see ledger.h)
 *
 * WAL mode: the report reads while the milter and the log reader write.
 * Every text stored is cut and cleaned by the caller's ptls_clean-like
 * rule here too (printable ASCII), so a hostile log line cannot put
 * control characters into a report.
 */
#include "milters/tls/ledger.h"
#include "common/alloc.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ptls_ledger {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *add;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS counts("
	" day TEXT NOT NULL, partner TEXT NOT NULL, direction TEXT NOT NULL,"
	" result TEXT NOT NULL, tls TEXT NOT NULL, cipher TEXT NOT NULL, trust TEXT NOT NULL,"
	" failure TEXT NOT NULL, mx_host TEXT NOT NULL, detail TEXT NOT NULL,"
	" n INTEGER NOT NULL,"
	" PRIMARY KEY(day, partner, direction, result, tls, cipher, trust, failure, mx_host,"
	" detail)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS logs(path TEXT PRIMARY KEY, dev INTEGER NOT NULL,"
	" ino INTEGER NOT NULL, offset INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sessions(program TEXT NOT NULL, pid INTEGER NOT NULL,"
	" seq INTEGER NOT NULL, peer TEXT NOT NULL, trust TEXT NOT NULL, version TEXT NOT NULL,"
	" cipher TEXT NOT NULL, verify_fail TEXT NOT NULL);";

/* fail - *err from SQLite's message; -1 */
static int fail(ptls_ledger *l, const char *what, char **err)
{
	if (err)
		*err = pn_asprintf("ledger %s: %s: %s", l->path, what, sqlite3_errmsg(l->db));
	return -1;
}

/* exec - run SQL without results */
static int exec(ptls_ledger *l, const char *sql, char **err)
{
	char *msg = NULL;

	if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (err)
			*err = pn_asprintf("ledger %s: %s", l->path, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* ptls_ledger_open - open (and create, unless readonly) the ledger */
ptls_ledger *ptls_ledger_open(const char *path, int readonly, long busy_ms, char **err)
{
	ptls_ledger *l = pn_calloc(1, sizeof(*l));
	struct stat st;
	int existed = stat(path, &st) == 0;

	l->path = pn_strdup(path);
	if (readonly && !existed) {
		*err = pn_asprintf("ledger %s: %s", path, strerror(ENOENT));
		ptls_ledger_close(l);
		return NULL;
	}
	if (sqlite3_open_v2(path, &l->db, readonly ? SQLITE_OPEN_READONLY
			    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		*err = pn_asprintf("ledger %s: cannot open: %s", path,
				   l->db ? sqlite3_errmsg(l->db) : strerror(errno));
		ptls_ledger_close(l);
		return NULL;
	}
	if (!existed)
		chmod(path, 0640);	/* partner names and hosts: not for every user */
	sqlite3_busy_timeout(l->db, busy_ms > 0x7fffffff ? 0x7fffffff : (int)busy_ms);
	if (!readonly && (exec(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err) < 0
			  || exec(l, schema, err) < 0)) {
		ptls_ledger_close(l);
		return NULL;
	}
	return l;
}

/* ptls_ledger_close - close; NULL is fine */
void ptls_ledger_close(ptls_ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_finalize(l->add);
	sqlite3_close(l->db);
	pn_free(l->path);
	pn_free(l);
}

/* clean - printable ASCII, at most max bytes, into a new string */
static char *clean(const char *s, size_t max)
{
	size_t n = 0, i;
	char *out;

	s = s ? s : "";
	while (s[n] && n < max)
		n++;
	out = pn_malloc(n + 1);
	for (i = 0; i < n; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[n] = '\0';
	return out;
}

/* ptls_ledger_add - add r->n to the row r names */
int ptls_ledger_add(ptls_ledger *l, const ptls_ledger_row *r, char **err)
{
	const char *v[10] = {r->day, r->partner, r->direction, r->result, r->tls, r->cipher,
			     r->trust, r->failure, r->mx_host, r->detail};
	char *c[10];
	int i, rc;

	if (l->add == NULL
	    && sqlite3_prepare_v2(l->db, "INSERT INTO counts VALUES(?,?,?,?,?,?,?,?,?,?,?)"
				  " ON CONFLICT DO UPDATE SET n = n + excluded.n", -1, &l->add,
				  NULL) != SQLITE_OK)
		return fail(l, "prepare", err);
	for (i = 0; i < 10; i++) {
		c[i] = clean(v[i], i == 9 ? PTLS_LEDGER_DETAIL_MAX : 255);
		sqlite3_bind_text(l->add, i + 1, c[i], -1, SQLITE_TRANSIENT);
		pn_free(c[i]);
	}
	sqlite3_bind_int64(l->add, 11, r->n);
	rc = sqlite3_step(l->add);
	sqlite3_reset(l->add);
	return rc == SQLITE_DONE ? 0 : fail(l, "add", err);
}

/* ptls_ledger_begin - start a write transaction (takes the lock now) */
int ptls_ledger_begin(ptls_ledger *l, char **err)
{
	return exec(l, "BEGIN IMMEDIATE", err);
}

/* ptls_ledger_commit - make the transaction's counts and positions durable */
int ptls_ledger_commit(ptls_ledger *l, char **err)
{
	return exec(l, "COMMIT", err);
}

/* ptls_ledger_rollback - forget the transaction */
void ptls_ledger_rollback(ptls_ledger *l)
{
	exec(l, "ROLLBACK", NULL);
}

/* ptls_ledger_log_get - where reading path stopped; 0 when never read */
int ptls_ledger_log_get(ptls_ledger *l, const char *path, ptls_ledger_pos *pos)
{
	sqlite3_stmt *st;
	int found = 0;

	memset(pos, 0, sizeof(*pos));
	if (sqlite3_prepare_v2(l->db, "SELECT dev, ino, offset FROM logs WHERE path = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pos->dev = sqlite3_column_int64(st, 0);
		pos->ino = sqlite3_column_int64(st, 1);
		pos->offset = sqlite3_column_int64(st, 2);
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

/* ptls_ledger_log_set - remember where reading path stopped */
int ptls_ledger_log_set(ptls_ledger *l, const char *path, const ptls_ledger_pos *pos, char **err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO logs VALUES(?,?,?,?)", -1, &st, NULL)
	    != SQLITE_OK)
		return fail(l, "remember log position", err);
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, pos->dev);
	sqlite3_bind_int64(st, 3, pos->ino);
	sqlite3_bind_int64(st, 4, pos->offset);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(l, "remember log position", err);
}

/* ptls_ledger_sessions_save - the tracker's open sessions, for the next run */
int ptls_ledger_sessions_save(ptls_ledger *l, const ptls_ml_tracker *t, char **err)
{
	sqlite3_stmt *st;
	size_t i;

	if (exec(l, "DELETE FROM sessions", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(l->db, "INSERT INTO sessions VALUES(?,?,?,?,?,?,?,?)", -1, &st, NULL)
	    != SQLITE_OK)
		return fail(l, "save sessions", err);
	for (i = 0; i < PTLS_ML_SESSIONS; i++) {
		const ptls_ml_session *x = &t->s[i];
		if (x->seq == 0)
			continue;
		sqlite3_bind_text(st, 1, x->program, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, x->pid);
		sqlite3_bind_int64(st, 3, (long long)x->seq);
		sqlite3_bind_text(st, 4, x->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, x->trust, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, x->version, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, x->cipher, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, x->verify_fail, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return fail(l, "save sessions", err);
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return 0;
}

/* put - a column into a fixed array (cut when too long: these came from our own parser) */
static void put(char *dst, size_t size, const unsigned char *v)
{
	size_t n = v ? strlen((const char *)v) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, v, n);
	dst[n] = '\0';
}

/* ptls_ledger_sessions_load - the sessions the last run left open */
void ptls_ledger_sessions_load(ptls_ledger *l, ptls_ml_tracker *t)
{
	sqlite3_stmt *st;
	size_t i = 0;

	ptls_ml_tracker_init(t);
	if (sqlite3_prepare_v2(l->db, "SELECT program, pid, seq, peer, trust, version, cipher,"
			       " verify_fail FROM sessions ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return;
	while (i < PTLS_ML_SESSIONS && sqlite3_step(st) == SQLITE_ROW) {
		ptls_ml_session *x = &t->s[i++];
		put(x->program, sizeof(x->program), sqlite3_column_text(st, 0));
		x->pid = (long)sqlite3_column_int64(st, 1);
		x->seq = ++t->seq;
		put(x->peer, sizeof(x->peer), sqlite3_column_text(st, 3));
		put(x->trust, sizeof(x->trust), sqlite3_column_text(st, 4));
		put(x->version, sizeof(x->version), sqlite3_column_text(st, 5));
		put(x->cipher, sizeof(x->cipher), sqlite3_column_text(st, 6));
		put(x->verify_fail, sizeof(x->verify_fail), sqlite3_column_text(st, 7));
	}
	sqlite3_finalize(st);
}

/* ptls_ledger_query - rows summed over the days asked for (see ledger.h) */
int ptls_ledger_query(ptls_ledger *l, const char *since, const char *until, const char *partner,
		      int (*each)(void *arg, const ptls_ledger_row *r), void *arg, char **err)
{
	sqlite3_stmt *st;
	ptls_ledger_row r;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(l->db,
			       "SELECT partner, direction, result, tls, cipher, trust, failure,"
			       " mx_host, detail, SUM(n) FROM counts"
			       " WHERE (?1 IS NULL OR day >= ?1) AND (?2 IS NULL OR day <= ?2)"
			       " AND (?3 IS NULL OR partner = ?3)"
			       " GROUP BY partner, direction, result, tls, cipher, trust, failure,"
			       " mx_host, detail"
			       " ORDER BY partner, direction, result, tls, cipher, trust, failure,"
			       " mx_host, detail", -1, &st, NULL) != SQLITE_OK)
		return fail(l, "query", err);
	if (since)
		sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
	if (until)
		sqlite3_bind_text(st, 2, until, -1, SQLITE_STATIC);
	if (partner)
		sqlite3_bind_text(st, 3, partner, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.partner = (const char *)sqlite3_column_text(st, 0);
		r.direction = (const char *)sqlite3_column_text(st, 1);
		r.result = (const char *)sqlite3_column_text(st, 2);
		r.tls = (const char *)sqlite3_column_text(st, 3);
		r.cipher = (const char *)sqlite3_column_text(st, 4);
		r.trust = (const char *)sqlite3_column_text(st, 5);
		r.failure = (const char *)sqlite3_column_text(st, 6);
		r.mx_host = (const char *)sqlite3_column_text(st, 7);
		r.detail = (const char *)sqlite3_column_text(st, 8);
		r.n = sqlite3_column_int64(st, 9);
		stop = each(arg, &r);
	}
	if (!stop && rc != SQLITE_DONE) {
		fail(l, "query", err);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return stop;
}

/* ptls_ledger_first_day - the earliest day counted; 0 when none */
int ptls_ledger_first_day(ptls_ledger *l, const char *partner, char day[11])
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int found = 0;

	if (sqlite3_prepare_v2(l->db, "SELECT MIN(day) FROM counts WHERE ?1 IS NULL OR partner = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (partner)
		sqlite3_bind_text(st, 1, partner, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && (v = sqlite3_column_text(st, 0)) != NULL
	    && strlen((const char *)v) == 10) {
		memcpy(day, v, 11);
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}
