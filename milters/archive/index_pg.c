/* SPDX-License-Identifier: BSD-2-Clause */
/* index_pg - the index of deliveries in PostgreSQL, shared by hosts (see index_pg.h) */
#include "milters/archive/index_pg.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/rfc2047.h"

#include <ctype.h>
#include <errno.h>
#include <json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BATCH 2000		/* records applied per transaction in catch-up */
#define PAGE 500		/* deliveries read per query when listing */
#define TEXT_MAX (512 * 1024)	/* bytes of text per delivery for the tsvector (1 MB limit) */
#define PARAMS_MAX 64
#define RETRY_SECONDS 2	/* after a failed connection, calls fail at once this long */
#define KEPT_MAX 8		/* statements of the write path prepared once per connection */

/* The schema, one step per version (pn_pg_migrate()). Step 1 creates it.
 * Full text: the 'simple' configuration (no stemming: words in any
 * language), accents removed as SQLite's unicode61 tokenizer does; the
 * text is reduced to words before PostgreSQL sees it (words_only()), so
 * an address or a file name is split into words as SQLite splits it.
 * Substring criteria (ILIKE '%text%') use trigram indexes. */
const char *const arc_pg_steps[] = {
	"CREATE EXTENSION IF NOT EXISTS pg_trgm;"
	"CREATE EXTENSION IF NOT EXISTS unaccent;"
	"CREATE TEXT SEARCH CONFIGURATION archive_text (COPY = simple);"
	"ALTER TEXT SEARCH CONFIGURATION archive_text"
	" ALTER MAPPING FOR word, numword, hword, hword_part, hword_numpart WITH unaccent, simple;"
	"CREATE TABLE archive_objects("
	" sha256 text PRIMARY KEY, size bigint NOT NULL, stored_size bigint NOT NULL,"
	" stored_sha256 text NOT NULL, encrypted boolean NOT NULL, time bigint NOT NULL);"
	"CREATE TABLE archive_deliveries("
	" num bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE,"
	" host text NOT NULL, time bigint NOT NULL, queue_id text NOT NULL,"
	" sha256 text NOT NULL, mta text NOT NULL, client_addr text NOT NULL,"
	" client_name text NOT NULL, helo text NOT NULL, auth text NOT NULL,"
	" direction text NOT NULL, sender text NOT NULL, hdr_from text NOT NULL,"
	" hdr_to text NOT NULL, hdr_cc text NOT NULL, subject text NOT NULL,"
	" message_id text NOT NULL, hdr_date text NOT NULL, size bigint NOT NULL,"
	" stored_size bigint NOT NULL, attachments text NOT NULL);"
	"CREATE INDEX archive_deliveries_time ON archive_deliveries(time, num);"
	"CREATE INDEX archive_deliveries_sha256 ON archive_deliveries(sha256 text_pattern_ops);"
	/* hash, not B-tree: a B-tree refuses a key over 2704 bytes, and a
	 * Message-ID that long (the sender's choice) would stop catch-up */
	"CREATE INDEX archive_deliveries_message_id ON archive_deliveries"
	" USING hash (message_id);"
	"CREATE INDEX archive_deliveries_queue_id ON archive_deliveries USING hash (queue_id);"
	"CREATE INDEX archive_deliveries_sender ON archive_deliveries"
	" USING gin (sender gin_trgm_ops);"
	"CREATE INDEX archive_deliveries_hdr_from ON archive_deliveries"
	" USING gin (hdr_from gin_trgm_ops);"
	"CREATE INDEX archive_deliveries_hdr_to ON archive_deliveries"
	" USING gin (hdr_to gin_trgm_ops);"
	"CREATE INDEX archive_deliveries_hdr_cc ON archive_deliveries"
	" USING gin (hdr_cc gin_trgm_ops);"
	"CREATE INDEX archive_deliveries_subject ON archive_deliveries"
	" USING gin (subject gin_trgm_ops);"
	"CREATE INDEX archive_deliveries_attachments ON archive_deliveries"
	" USING gin (attachments gin_trgm_ops);"
	"CREATE TABLE archive_recipients("
	" delivery bigint NOT NULL REFERENCES archive_deliveries(num) ON DELETE CASCADE,"
	" pos integer NOT NULL, address text NOT NULL, PRIMARY KEY (delivery, pos));"
	"CREATE INDEX archive_recipients_address ON archive_recipients"
	" USING gin (address gin_trgm_ops);"
	"CREATE TABLE archive_fulltext("
	" delivery bigint PRIMARY KEY REFERENCES archive_deliveries(num) ON DELETE CASCADE,"
	" doc tsvector NOT NULL);"
	"CREATE INDEX archive_fulltext_doc ON archive_fulltext USING gin (doc);"
	"CREATE TABLE archive_holds(id text PRIMARY KEY, held boolean NOT NULL,"
	" usec bigint NOT NULL, reason text NOT NULL, user_name text NOT NULL);"
	"CREATE TABLE archive_voids(id text PRIMARY KEY);"
	"CREATE TABLE archive_journal_applied(host text NOT NULL, file text NOT NULL,"
	" ino bigint NOT NULL, byte_offset bigint NOT NULL,"
	" updated timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (host, file));"
	"GRANT SELECT ON postern_schema TO postern_archive, postern_auditor;"
	"GRANT SELECT, INSERT, UPDATE, DELETE ON archive_objects, archive_deliveries,"
	" archive_recipients, archive_fulltext, archive_holds, archive_voids,"
	" archive_journal_applied TO postern_archive;"
	"GRANT USAGE, SELECT ON SEQUENCE archive_deliveries_num_seq TO postern_archive;"
	"GRANT SELECT ON archive_objects, archive_deliveries, archive_recipients,"
	" archive_fulltext, archive_holds, archive_voids, archive_journal_applied"
	" TO postern_auditor;",
};
const int arc_pg_version = (int)(sizeof(arc_pg_steps) / sizeof(arc_pg_steps[0]));

struct arc_pgindex {
	char *conninfo;
	PGconn *c;
	char *down;		/* why the last connection attempt failed */
	time_t retry_at;	/* CLOCK_MONOTONIC: no new attempt before */
	int backend;		/* PQbackendPID() of the connection checked */
	int checked;		/* schema version and rights checked on it */
	const char *kept[KEPT_MAX];	/* prepared on this connection (constants: by address) */
	int nkept;
	int readonly;
	int fulltext;
	pthread_mutex_t lock;
};

/* The delivery columns, in the order row_delivery() reads them. */
#define DELIVERY_COLUMNS \
	"d.num, d.id, d.time, d.queue_id, d.sha256, d.mta, d.client_addr, d.client_name," \
	" d.helo, d.auth, d.direction, d.sender, d.hdr_from, d.hdr_to, d.hdr_cc, d.subject," \
	" d.message_id, d.hdr_date, d.size, d.stored_size, d.attachments," \
	" COALESCE((SELECT h.held FROM archive_holds h WHERE h.id = d.id), false)," \
	" COALESCE((SELECT h.reason FROM archive_holds h WHERE h.id = d.id AND h.held), '')," \
	" COALESCE((SELECT o.encrypted FROM archive_objects o WHERE o.sha256 = d.sha256), false)," \
	" (SELECT json_agg(r.address ORDER BY r.pos) FROM archive_recipients r" \
	" WHERE r.delivery = d.num)"

/* Query parameters: text, every one owned (user and journal text is
 * never part of the SQL). */
typedef struct params {
	char *v[PARAMS_MAX];
	int n;
} params;

/* add_s - a text parameter, made valid UTF-8 (PostgreSQL refuses
 * anything else, and a record it refuses would stop catch-up for good) */
static int add_s(params *pa, const char *s)
{
	if (s == NULL)
		s = "";
	if (pa->n < PARAMS_MAX)
		pa->v[pa->n++] = pn_utf8_sanitize(s, strlen(s));
	return pa->n;
}

/* add_own - a parameter the caller allocated */
static int add_own(params *pa, char *s)
{
	char *clean = pn_utf8_sanitize(s, strlen(s));

	pn_free(s);
	if (pa->n < PARAMS_MAX)
		pa->v[pa->n++] = clean;
	else
		pn_free(clean);
	return pa->n;
}

/* add_i - an integer parameter */
static int add_i(params *pa, long long i)
{
	if (pa->n < PARAMS_MAX)
		pa->v[pa->n++] = pn_asprintf("%lld", i);
	return pa->n;
}

/* params_free - release the parameters */
static void params_free(params *pa)
{
	int i;

	for (i = 0; i < pa->n; i++)
		pn_free(pa->v[i]);
	pa->n = 0;
}

/* quiet - PostgreSQL's notices ("word is too long to be indexed") are
 * not the user's business: debug log only */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	pn_debug("index: PostgreSQL: %s", message);
}

/* fail - *err (when not set yet) from a message */
static int fail(char **err, char *msg)
{
	if (err && *err == NULL)
		*err = msg;
	else
		pn_free(msg);
	return -1;
}

/* run - a statement with parameters; NULL with *err */
static PGresult *run(arc_pgindex *p, const char *sql, const params *pa, char **err)
{
	char *e = NULL;
	PGresult *r = pn_pg_query(p->c, sql, pa ? pa->n : 0,
				  pa ? (const char *const *)pa->v : NULL, &e);

	if (r == NULL)
		fail(err, pn_asprintf("index: %s", e));
	pn_free(e);
	return r;
}

/* run_kept - run() for a constant statement of the write path, prepared
 * once per connection: catch-up runs the same few for every record */
static PGresult *run_kept(arc_pgindex *p, const char *sql, const params *pa, char **err)
{
	char name[16];
	PGresult *r;
	int i;

	for (i = 0; i < p->nkept && p->kept[i] != sql; i++)
		;
	if (i == KEPT_MAX)
		return run(p, sql, pa, err);
	snprintf(name, sizeof(name), "arc%d", i);
	if (i == p->nkept) {
		r = PQprepare(p->c, name, sql, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			PQclear(r);
			return run(p, sql, pa, err);	/* the same error, with its message */
		}
		PQclear(r);
		p->kept[p->nkept++] = sql;
	}
	r = PQexecPrepared(p->c, name, pa->n, (const char *const *)pa->v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *m = PQerrorMessage(p->c);
		size_t n = strlen(m);
		while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
			n--;
		fail(err, pn_asprintf("index: PostgreSQL: %.*s", (int)n, m));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* run_ok - a statement whose rows do not matter; rows changed or -1 */
static long long run_ok(arc_pgindex *p, const char *sql, const params *pa, char **err)
{
	PGresult *r = run(p, sql, pa, err);
	long long n;

	if (r == NULL)
		return -1;
	n = atoll(PQcmdTuples(r));
	PQclear(r);
	return n;
}

/* changed - the rows a statement's result changed (cleared), -1 for none */
static long long changed(PGresult *r)
{
	long long n;

	if (r == NULL)
		return -1;
	n = atoll(PQcmdTuples(r));
	PQclear(r);
	return n;
}

/* arc_pgindex_unreachable - the last connection attempt failed */
int arc_pgindex_unreachable(arc_pgindex *p)
{
	int down;

	pthread_mutex_lock(&p->lock);
	down = p->down != NULL;
	pthread_mutex_unlock(&p->lock);
	return down;
}

/* ensure - a live connection to a database with this program's schema */
static int ensure(arc_pgindex *p, char **err)
{
	char *e = NULL;
	PGresult *r;
	struct timespec now;

	/* a server that does not answer costs a caller up to connect_timeout:
	 * once, not on every call (the delivery path looks objects up here) */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (p->c == NULL && p->down && now.tv_sec < p->retry_at)
		return fail(err, pn_asprintf("index: %s", p->down));
	if (pn_pg_alive(&p->c, p->conninfo, &e) < 0) {
		p->checked = 0;
		pn_free(p->down);
		p->down = pn_strdup(e ? e : "cannot connect to PostgreSQL");
		p->retry_at = now.tv_sec + RETRY_SECONDS;
		pn_free(e);
		return fail(err, pn_asprintf("index: %s", p->down));
	}
	pn_free(e);
	e = NULL;
	pn_free(p->down);
	p->down = NULL;
	if (p->checked && PQbackendPID(p->c) == p->backend)
		return 0;
	/* a new connection: perhaps a new server, or a schema upgraded since */
	p->checked = 0;
	p->nkept = 0;
	PQsetNoticeProcessor(p->c, quiet, NULL);
	if (pn_pg_require(p->c, "archive", arc_pg_version, "postern-archive", &e) < 0) {
		fail(err, pn_asprintf("index: %s", e ? e : "wrong schema"));
		pn_free(e);
		return -1;
	}
	if ((r = run(p, "SELECT has_table_privilege('archive_deliveries', 'INSERT')", NULL, err))
	    == NULL)
		return -1;
	p->readonly = strcmp(PQgetvalue(r, 0, 0), "t") != 0;
	PQclear(r);
	p->backend = PQbackendPID(p->c);
	p->checked = 1;
	return 0;
}

/* arc_pgindex_open - a handle; the connection comes with its first use */
arc_pgindex *arc_pgindex_open(const char *conninfo, int fulltext)
{
	arc_pgindex *p = pn_calloc(1, sizeof(*p));
	pthread_mutexattr_t attr;

	p->conninfo = pn_strdup(conninfo);
	p->fulltext = fulltext;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&p->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return p;
}

/* arc_pgindex_close - close the connection */
void arc_pgindex_close(arc_pgindex *p)
{
	if (p == NULL)
		return;
	PQfinish(p->c);
	pthread_mutex_destroy(&p->lock);
	pn_free(p->down);
	pn_free(p->conninfo);
	pn_free(p);
}

/* begin - start a write transaction */
static int begin(arc_pgindex *p, char **err)
{
	if (p->readonly)
		return fail(err, pn_strdup("index is read-only for this database role"));
	return run_ok(p, "BEGIN", NULL, err) < 0 ? -1 : 0;
}

/* finish - commit, or roll back after a failure */
static int finish(arc_pgindex *p, int rc, char **err)
{
	if (rc == 0 && run_ok(p, "COMMIT", NULL, err) == 0)
		return 0;
	run_ok(p, "ROLLBACK", NULL, NULL);
	return -1;
}

/* words_only - text as words separated by spaces: ASCII punctuation and
 * controls become spaces (SQLite's unicode61 tokenizer splits there too;
 * PostgreSQL's parser would keep an address or a path as one token),
 * invalid UTF-8 is replaced, and the text is cut at TEXT_MAX */
static char *words_only(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *out, *p;

	if (n > TEXT_MAX) {
		n = TEXT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;	/* not inside a UTF-8 sequence */
	}
	out = pn_utf8_sanitize(s ? s : "", n);
	for (p = out; *p; p++)
		if ((unsigned char)*p < 0x80 && !isalnum((unsigned char)*p))
			*p = ' ';
	return out;
}

/* text_array - a PostgreSQL text[] literal from n strings */
static char *text_array(char **v, size_t n)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	pn_buf_putc(&b, '{');
	for (i = 0; i < n; i++) {
		char *clean = pn_utf8_sanitize(v[i], strlen(v[i])), *c;
		if (i)
			pn_buf_putc(&b, ',');
		pn_buf_putc(&b, '"');
		for (c = clean; *c; c++) {
			if (*c == '"' || *c == '\\')
				pn_buf_putc(&b, '\\');
			pn_buf_putc(&b, *c);
		}
		pn_buf_putc(&b, '"');
		pn_free(clean);
	}
	pn_buf_putc(&b, '}');
	return pn_buf_steal(&b, NULL);
}

/* insert_object - the object row; 1 when it changed, 0 if not, -1 */
static int insert_object(arc_pgindex *p, const arc_object *o, char **err)
{
	/* as SQLite: a newer record of the same object wins, the same one
	 * changes nothing */
	static const char sql[] =
		"INSERT INTO archive_objects(sha256, size, stored_size, stored_sha256, encrypted,"
		" time) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO UPDATE SET"
		" size = excluded.size, stored_size = excluded.stored_size,"
		" stored_sha256 = excluded.stored_sha256, encrypted = excluded.encrypted,"
		" time = excluded.time WHERE excluded.time >= archive_objects.time"
		" AND (excluded.size, excluded.stored_size, excluded.stored_sha256,"
		" excluded.encrypted, excluded.time) IS DISTINCT FROM (archive_objects.size,"
		" archive_objects.stored_size, archive_objects.stored_sha256,"
		" archive_objects.encrypted, archive_objects.time)";
	/* several hosts journal records of one shared object: a row that the
	 * record would not change is left alone without the row lock an
	 * upsert takes (two indexers locking two objects in opposite order
	 * deadlock, and one of them would have to start its batch again) */
	static const char same[] =
		"SELECT 1 FROM archive_objects WHERE sha256 = $1 AND (time > $6::bigint"
		" OR (size, stored_size, stored_sha256, encrypted, time)"
		" = ($2::bigint, $3::bigint, $4, $5::boolean, $6::bigint))";
	params pa = {{0}, 0};
	PGresult *r;
	long long n = 0;

	add_s(&pa, o->sha256);
	add_i(&pa, (long long)o->size);
	add_i(&pa, (long long)o->stored_size);
	add_s(&pa, o->stored_sha256);
	add_s(&pa, o->encrypted ? "t" : "f");
	add_i(&pa, o->time);
	if ((r = run_kept(p, same, &pa, err)) == NULL)
		n = -1;
	else if (PQntuples(r) == 0 && (n = changed(run_kept(p, sql, &pa, err))) < 0)
		n = -1;
	PQclear(r);
	params_free(&pa);
	return n < 0 ? -1 : n > 0;
}

/* collision - a delivery not inserted: report an id another host has */
static void collision(arc_pgindex *p, const arc_delivery *d, const char *host)
{
	params pa = {{0}, 0};
	PGresult *r;

	add_s(&pa, d->id);
	r = run(p, "SELECT host FROM archive_deliveries WHERE id = $1", &pa, NULL);
	if (r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), host) != 0)
		pn_warn("index: delivery id %s of host \"%s\" exists already from host \"%s\":"
			" not indexed a second time (both journals keep it)", d->id, host,
			PQgetvalue(r, 0, 0));
	PQclear(r);
	params_free(&pa);
}

/* insert_delivery - delivery, recipients and full text in one statement;
 * 1 when inserted, 0 when there (or voided), -1 */
static int insert_delivery(arc_pgindex *p, const arc_delivery *d, const char *host,
			   const char *text, char **err)
{
	static const char sql[] =
		"WITH ins AS (INSERT INTO archive_deliveries(id, host, time, queue_id, sha256,"
		" mta, client_addr, client_name, helo, auth, direction, sender, hdr_from, hdr_to,"
		" hdr_cc, subject, message_id, hdr_date, size, stored_size, attachments)"
		" SELECT $1, $2, $3::bigint, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
		" $16, $17, $18, $19::bigint, $20::bigint, $21"
		" WHERE NOT EXISTS (SELECT 1 FROM archive_voids WHERE id = $1)"
		" ON CONFLICT (id) DO NOTHING RETURNING num),"
		" rcpt AS (INSERT INTO archive_recipients(delivery, pos, address)"
		" SELECT ins.num, a.pos, a.address FROM ins,"
		" unnest($22::text[]) WITH ORDINALITY AS a(address, pos)),"
		" ft AS (INSERT INTO archive_fulltext(delivery, doc)"
		" SELECT ins.num, strip(to_tsvector('archive_text', $23)"
		" || to_tsvector('archive_text', $24)) FROM ins WHERE $25::boolean)"
		" SELECT num FROM ins";
	params pa = {{0}, 0};
	PGresult *r;
	int rc;

	add_s(&pa, d->id);
	add_s(&pa, host);
	add_i(&pa, d->time);
	add_s(&pa, d->queue_id);
	add_s(&pa, d->sha256);
	add_s(&pa, d->mta);
	add_s(&pa, d->client_addr);
	add_s(&pa, d->client_name);
	add_s(&pa, d->helo);
	add_s(&pa, d->auth);
	add_s(&pa, d->direction);
	add_s(&pa, d->sender);
	add_s(&pa, d->hdr_from);
	add_s(&pa, d->hdr_to);
	add_s(&pa, d->hdr_cc);
	add_s(&pa, d->subject);
	add_s(&pa, d->message_id);
	add_s(&pa, d->hdr_date);
	add_i(&pa, (long long)d->size);
	add_i(&pa, (long long)d->stored_size);
	add_own(&pa, arc_join_lines(d->attachments, d->nattachments));
	add_own(&pa, text_array(d->rcpts, d->nrcpts));
	add_own(&pa, words_only(d->subject));
	add_own(&pa, words_only(p->fulltext >= 2 ? text : ""));
	add_s(&pa, p->fulltext ? "t" : "f");
	r = run_kept(p, sql, &pa, err);
	params_free(&pa);
	if (r == NULL)
		return -1;
	rc = PQntuples(r) == 1;
	PQclear(r);
	if (rc == 0)
		collision(p, d, host);
	return rc;
}

/* delete_one - a delivery (recipients and full text follow), and a
 * release nobody needs any more */
static int delete_one(arc_pgindex *p, const char *id, char **err)
{
	params pa = {{0}, 0};
	int rc = 0;

	add_s(&pa, id);
	if (run_ok(p, "DELETE FROM archive_deliveries WHERE id = $1", &pa, err) < 0
	    || run_ok(p, "DELETE FROM archive_holds WHERE id = $1 AND NOT held", &pa, err) < 0)
		rc = -1;
	params_free(&pa);
	return rc;
}

/* apply_hold - latest event wins, whatever order events arrive in */
static int apply_hold(arc_pgindex *p, const arc_record *r, char **err)
{
	static const char sql[] =
		"INSERT INTO archive_holds(id, held, usec, reason, user_name)"
		" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET"
		" held = excluded.held, usec = excluded.usec, reason = excluded.reason,"
		" user_name = excluded.user_name WHERE excluded.usec > archive_holds.usec";
	long long total = 0, n = 0;
	size_t i;

	for (i = 0; i < r->nids && n >= 0; i++) {
		params pa = {{0}, 0};
		if (!arc_is_id(r->ids[i]))
			continue;	/* names no delivery; too long a key for the table */
		add_s(&pa, r->ids[i]);
		add_s(&pa, r->type == ARC_REC_HOLD ? "t" : "f");
		add_i(&pa, r->usec);
		add_s(&pa, r->reason);
		add_s(&pa, r->user);
		if ((n = changed(run_kept(p, sql, &pa, err))) > 0)
			total += n;
		params_free(&pa);
	}
	return n < 0 ? -1 : total > 0;
}

/* known_delivery - 1 when a delivery is indexed or voided, 0 if not, -1 */
static int known_delivery(arc_pgindex *p, const char *id, char **err)
{
	static const char sql[] = "SELECT 1 FROM archive_deliveries WHERE id = $1"
				  " UNION ALL SELECT 1 FROM archive_voids WHERE id = $1";
	params pa = {{0}, 0};
	PGresult *r;
	int rc;

	add_s(&pa, id);
	r = run_kept(p, sql, &pa, err);
	params_free(&pa);
	if (r == NULL)
		return -1;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

/* apply - one journal record: -1 error, 0 nothing new, 1 the index changed */
static int apply(arc_pgindex *p, const arc_record *r, const char *host, arc_text_fn text,
		 void *ctx, char **err)
{
	params pa = {{0}, 0};
	long long n;
	int rc;

	switch (r->type) {
	case ARC_REC_OBJECT:
		return insert_object(p, &r->object, err);
	case ARC_REC_DELIVERY: {
		char *t = NULL;
		/* the text only for a delivery about to be inserted */
		if (text && p->fulltext >= 2) {
			if ((rc = known_delivery(p, r->delivery->id, err)) != 0) {
				if (rc > 0)
					collision(p, r->delivery, host);
				return rc < 0 ? -1 : 0;
			}
			t = text(ctx, r->delivery);
		}
		rc = insert_delivery(p, r->delivery, host, t, err);
		pn_free(t);
		return rc;
	}
	case ARC_REC_VOID:
		if (r->id == NULL || !arc_is_id(r->id))
			return 0;	/* names no delivery */
		add_s(&pa, r->id);
		n = run_ok(p, "INSERT INTO archive_voids(id) VALUES ($1) ON CONFLICT DO NOTHING",
			   &pa, err);
		params_free(&pa);
		if (n < 0)
			return -1;
		return delete_one(p, r->id, err) < 0 ? -1 : n > 0;
	case ARC_REC_HOLD:
	case ARC_REC_RELEASE:
		return apply_hold(p, r, err);
	}
	return 0;
}

/* arc_pgindex_apply - one record in its own transaction */
int arc_pgindex_apply(arc_pgindex *p, const arc_record *r, char **err)
{
	int rc;

	*err = NULL;
	pthread_mutex_lock(&p->lock);
	rc = ensure(p, err);
	if (rc == 0)
		rc = begin(p, err);
	if (rc == 0)
		rc = finish(p, apply(p, r, "", NULL, NULL, err) < 0 ? -1 : 0, err);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

typedef struct catch_ctx {
	arc_pgindex *p;
	const char *host;
	const char *lock;	/* advisory lock of the file being applied */
	arc_text_fn text;
	void *ctx;
	arc_hold_fn hold;
	void *hold_ctx;
	size_t applied, in_batch, held;
	char *err;
} catch_ctx;

/* lock_file - this transaction is the only one applying this journal
 * file (a tool and the daemon on one host may catch up at once) */
static int lock_file(catch_ctx *c)
{
	params pa = {{0}, 0};
	long long n;

	add_s(&pa, c->lock);
	n = run_ok(c->p, "SELECT pg_advisory_xact_lock(hashtext($1))", &pa, &c->err);
	params_free(&pa);
	return n < 0 ? -1 : 0;
}

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
	switch (apply(c->p, r, c->host, c->text, c->ctx, &c->err)) {
	case -1:
		return -1;
	case 1:
		c->applied++;
		break;
	}
	if (++c->in_batch >= BATCH) {
		/* other writers between batches; a crash re-applies the file, idempotently */
		c->in_batch = 0;
		if (run_ok(c->p, "COMMIT", NULL, &c->err) < 0 || begin(c->p, &c->err) < 0
		    || lock_file(c) < 0)
			return -1;
	}
	return 0;
}

/* applied_pos - how far this host's journal file has been applied */
static int applied_pos(catch_ctx *c, const char *name, long long *ino, long long *off)
{
	params pa = {{0}, 0};
	PGresult *r;

	*ino = -1;
	*off = 0;
	add_s(&pa, c->host);
	add_s(&pa, name);
	r = run(c->p, "SELECT ino, byte_offset FROM archive_journal_applied"
		" WHERE host = $1 AND file = $2", &pa, &c->err);
	params_free(&pa);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		*ino = atoll(PQgetvalue(r, 0, 0));
		*off = atoll(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return 0;
}

/* catch_up_file - apply what is new in one day file */
static int catch_up_file(catch_ctx *c, arc_journal *j, const char *dir, const char *name)
{
	char *path = pn_asprintf("%s/%s", dir, name), *lock;
	struct stat st;
	long long ino, off;
	arc_journal_pos end;
	params pa = {{0}, 0};
	int rc;

	if (stat(path, &st) < 0) {
		pn_free(path);
		return 0;	/* vanished meanwhile */
	}
	pn_free(path);
	if (applied_pos(c, name, &ino, &off) < 0)
		return -1;
	if (ino == (long long)st.st_ino && off >= (long long)st.st_size)
		return 0;	/* nothing new: no transaction at all */
	if (begin(c->p, &c->err) < 0)
		return -1;
	lock = pn_asprintf("postern-archive journal %s/%s", c->host, name);
	c->lock = lock;
	/* another process may have advanced meanwhile */
	if (lock_file(c) < 0 || applied_pos(c, name, &ino, &off) < 0) {
		pn_free(lock);
		return finish(c->p, -1, &c->err);
	}
	if (ino != (long long)st.st_ino)
		off = 0;	/* rewritten by prune: from the start */
	c->in_batch = 0;
	rc = arc_journal_read(j, name, off, catch_record, c, &end);
	if (rc < 0 && c->err == NULL)
		c->err = pn_asprintf("cannot read journal file %s: %s", name, strerror(errno));
	if (rc == 0 && c->err == NULL) {
		add_s(&pa, c->host);
		add_s(&pa, name);
		add_i(&pa, (long long)end.ino);
		add_i(&pa, end.offset);
		if (run_ok(c->p, "INSERT INTO archive_journal_applied(host, file, ino, byte_offset)"
			   " VALUES ($1, $2, $3, $4) ON CONFLICT (host, file) DO UPDATE SET"
			   " ino = excluded.ino, byte_offset = excluded.byte_offset, updated = now()",
			   &pa, &c->err) < 0)
			rc = -1;
		params_free(&pa);
	}
	pn_free(lock);
	c->lock = NULL;
	return finish(c->p, c->err ? -1 : rc, &c->err);
}

/* arc_pgindex_catch_up_with - catch-up of some day files, held back where told */
int arc_pgindex_catch_up_with(arc_pgindex *p, arc_journal *j, arc_catch_up *how,
			      size_t *applied, char **err)
{
	catch_ctx c;
	char **names = how->files;
	const char *dir;
	size_t n = how->nfiles, i;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.host = arc_journal_host(j);
	c.text = how->text;
	c.ctx = how->text_ctx;
	c.hold = how->hold;
	c.hold_ctx = how->hold_ctx;
	*err = NULL;
	how->held = 0;
	if (applied)
		*applied = 0;
	pthread_mutex_lock(&p->lock);
	if (ensure(p, err) < 0 || p->readonly) {
		pthread_mutex_unlock(&p->lock);
		return *err ? -1 : 0;
	}
	if (names == NULL && arc_journal_files(j, &names, &n) < 0) {
		pthread_mutex_unlock(&p->lock);
		*err = pn_asprintf("cannot list the journal: %s", strerror(errno));
		return -1;
	}
	dir = arc_journal_dir(j);
	for (i = 0; i < n && rc == 0; i++)
		rc = catch_up_file(&c, j, dir, names[i]);
	pthread_mutex_unlock(&p->lock);
	if (how->files == NULL)
		arc_journal_files_free(names, n);
	if (applied)
		*applied = c.applied;
	how->held = c.held;
	*err = c.err;
	return rc;
}

/* arc_pgindex_reset - forget everything (reindex starts from nothing) */
int arc_pgindex_reset(arc_pgindex *p, char **err)
{
	/* every table, the referencing ones first */
	static const char *const tables[] = {
		"archive_fulltext", "archive_recipients", "archive_deliveries", "archive_objects",
		"archive_holds", "archive_voids", "archive_journal_applied",
	};
	size_t i;
	int rc, in_tx;

	*err = NULL;
	pthread_mutex_lock(&p->lock);
	rc = ensure(p, err);
	if (rc == 0)
		rc = begin(p, err);
	in_tx = rc == 0;
	for (i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]); i++) {
		char *sql = pn_asprintf("DELETE FROM %s", tables[i]);
		if (run_ok(p, sql, NULL, err) < 0)
			rc = -1;
		pn_free(sql);
	}
	if (rc == 0 || in_tx)
		rc = finish(p, rc, err);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* arc_pgindex_set_text - (re)write a delivery's full-text row */
int arc_pgindex_set_text(arc_pgindex *p, long long rowid, const char *subject, const char *text)
{
	params pa = {{0}, 0};
	int rc;

	if (p->fulltext == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	add_i(&pa, rowid);
	add_own(&pa, words_only(subject));
	add_own(&pa, words_only(p->fulltext >= 2 ? text : ""));
	rc = ensure(p, NULL) < 0 ? -1 : 0;
	if (rc == 0 && run_ok(p, "INSERT INTO archive_fulltext(delivery, doc)"
			      " SELECT num, strip(to_tsvector('archive_text', $2)"
			      " || to_tsvector('archive_text', $3)) FROM archive_deliveries"
			      " WHERE num = $1::bigint ON CONFLICT (delivery) DO UPDATE"
			      " SET doc = excluded.doc", &pa, NULL) < 0)
		rc = -1;
	params_free(&pa);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* lower_prefix - a SHA-256 prefix as stored (lower case), as a LIKE prefix */
static char *lower_prefix(const char *s)
{
	char *out = pn_asprintf("%s%%", s), *c;

	for (c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return out;
}

/* build_where - the WHERE clause of a query, as SQLite's; -1 with *err */
static int build_where(const arc_query *q, pn_buf *sql, params *pa, char **err)
{
	char num[48];
	size_t i;
	int n;

	pn_buf_puts(sql, " WHERE true");
	/* ILIKE: trigram indexes; ASCII case ignored, as SQLite's LIKE (and
	 * other letters' case too, as the database's locale says) */
	if (q->from) {
		n = add_own(pa, arc_like_pattern(q->from));
		pn_buf_printf(sql, " AND (d.sender ILIKE $%d OR d.hdr_from ILIKE $%d)", n, n);
	}
	if (q->to) {
		n = add_own(pa, arc_like_pattern(q->to));
		pn_buf_printf(sql, " AND d.num IN (SELECT t.num FROM archive_deliveries t"
			      " WHERE t.hdr_to ILIKE $%d OR t.hdr_cc ILIKE $%d"
			      " UNION SELECT r.delivery FROM archive_recipients r"
			      " WHERE r.address ILIKE $%d)", n, n, n);
	}
	if (q->subject) {
		n = add_own(pa, arc_like_pattern(q->subject));
		pn_buf_printf(sql, " AND d.subject ILIKE $%d", n);
	}
	if (q->attachment) {
		n = add_own(pa, arc_like_pattern(q->attachment));
		pn_buf_printf(sql, " AND d.attachments ILIKE $%d", n);
	}
	if (q->text) {
		/* plainto_tsquery: every word required, nothing read as syntax */
		n = add_own(pa, words_only(q->text));
		pn_buf_printf(sql, " AND d.num IN (SELECT f.delivery FROM archive_fulltext f"
			      " WHERE f.doc @@ plainto_tsquery('archive_text', $%d))", n);
	}
	if (q->message_id) {
		n = add_s(pa, q->message_id);
		pn_buf_printf(sql, " AND d.message_id = $%d", n);
	}
	if (q->since >= 0) {
		n = add_i(pa, q->since);
		pn_buf_printf(sql, " AND d.time >= $%d::bigint", n);
	}
	if (q->until >= 0) {
		n = add_i(pa, q->until);
		pn_buf_printf(sql, " AND d.time < $%d::bigint", n);
	}
	if (q->larger >= 0) {
		n = add_i(pa, q->larger);
		pn_buf_printf(sql, " AND d.size > $%d::bigint", n);
	}
	if (q->held_only)
		pn_buf_puts(sql, " AND EXISTS (SELECT 1 FROM archive_holds h"
			    " WHERE h.id = d.id AND h.held)");
	if (q->nkeys > 40) {
		*err = pn_strdup("too many ids in one query (at most 40)");
		return -1;
	}
	for (i = 0; i < q->nkeys; i++) {
		pn_buf_puts(sql, i == 0 ? " AND (" : " OR ");
		switch (arc_key_classify(q->keys[i])) {
		case ARC_KEY_ID:
			n = add_s(pa, q->keys[i]);
			snprintf(num, sizeof(num), "d.id = $%d", n);
			break;
		case ARC_KEY_SHA256:
			n = add_own(pa, lower_prefix(q->keys[i]));
			pa->v[n - 1][strlen(pa->v[n - 1]) - 1] = '\0';	/* whole: no '%' */
			snprintf(num, sizeof(num), "d.sha256 = $%d", n);
			break;
		case ARC_KEY_SHA_PREFIX:
			n = add_own(pa, lower_prefix(q->keys[i]));
			snprintf(num, sizeof(num), "d.sha256 LIKE $%d", n);
			break;
		case ARC_KEY_MESSAGE_ID:
			n = add_own(pa, arc_message_id_normal(q->keys[i]));
			snprintf(num, sizeof(num), "d.message_id = $%d", n);
			break;
		case ARC_KEY_BAD:
		default:
			*err = pn_asprintf("\"%s\" is neither a delivery id, a SHA-256 nor a Message-ID",
					   q->keys[i]);
			return -1;
		}
		pn_buf_puts(sql, num);
		if (i + 1 == q->nkeys)
			pn_buf_putc(sql, ')');
	}
	return 0;
}

/* set_col - replace a delivery field by a column */
static void set_col(char **field, const PGresult *r, int row, int i)
{
	pn_free(*field);
	*field = pn_strdup(PQgetvalue(r, row, i));
}

/* row_delivery - a delivery from a DELIVERY_COLUMNS row, recipients included */
static arc_delivery *row_delivery(const PGresult *r, int i, arc_row *row)
{
	arc_delivery *d = arc_delivery_new();
	char *att, *s, *nl;
	json_object *rc;
	size_t k;

	memset(row, 0, sizeof(*row));
	row->rowid = atoll(PQgetvalue(r, i, 0));
	set_col(&d->id, r, i, 1);
	d->time = atoll(PQgetvalue(r, i, 2));
	set_col(&d->queue_id, r, i, 3);
	set_col(&d->sha256, r, i, 4);
	set_col(&d->mta, r, i, 5);
	set_col(&d->client_addr, r, i, 6);
	set_col(&d->client_name, r, i, 7);
	set_col(&d->helo, r, i, 8);
	set_col(&d->auth, r, i, 9);
	set_col(&d->direction, r, i, 10);
	set_col(&d->sender, r, i, 11);
	set_col(&d->hdr_from, r, i, 12);
	set_col(&d->hdr_to, r, i, 13);
	set_col(&d->hdr_cc, r, i, 14);
	set_col(&d->subject, r, i, 15);
	set_col(&d->message_id, r, i, 16);
	set_col(&d->hdr_date, r, i, 17);
	d->size = strtoull(PQgetvalue(r, i, 18), NULL, 10);
	d->stored_size = strtoull(PQgetvalue(r, i, 19), NULL, 10);
	att = pn_strdup(PQgetvalue(r, i, 20));
	for (s = att; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		arc_delivery_add_attachment(d, s);
		if (nl == NULL)
			break;
	}
	pn_free(att);
	row->held = strcmp(PQgetvalue(r, i, 21), "t") == 0;
	row->hold_reason = pn_strdup(PQgetvalue(r, i, 22));
	row->encrypted = strcmp(PQgetvalue(r, i, 23), "t") == 0;
	if (!PQgetisnull(r, i, 24) && (rc = json_tokener_parse(PQgetvalue(r, i, 24))) != NULL) {
		for (k = 0; k < json_object_array_length(rc); k++) {
			const char *a = json_object_get_string(json_object_array_get_idx(rc, k));
			arc_delivery_add_rcpt(d, a ? a : "");
		}
		json_object_put(rc);
	}
	return d;
}

/* nums_array - a bigint[] literal of the row numbers n[from..to) */
static char *nums_array(const PGresult *r, int from, int to)
{
	pn_buf b;
	int i;

	pn_buf_init(&b, 0);
	pn_buf_putc(&b, '{');
	for (i = from; i < to; i++) {
		if (i > from)
			pn_buf_putc(&b, ',');
		pn_buf_puts(&b, PQgetvalue(r, i, 0));
	}
	pn_buf_putc(&b, '}');
	return pn_buf_steal(&b, NULL);
}

/* each_row - fn for the deliveries whose row numbers sql (time order)
 * selects; read PAGE at a time, and no transaction stays open while fn
 * runs (fn may call the index) */
static int each_row(arc_pgindex *p, const char *sql, const params *pa, arc_row_fn fn,
		    void *ctx, char **err)
{
	PGresult *nums = run(p, sql, pa, err), *r;
	int total, i, k, stop = 0;

	if (nums == NULL)
		return -1;
	total = PQntuples(nums);
	for (i = 0; i < total && !stop; i += PAGE) {
		params page = {{0}, 0};
		add_own(&page, nums_array(nums, i, i + PAGE < total ? i + PAGE : total));
		r = run(p, "SELECT " DELIVERY_COLUMNS " FROM archive_deliveries d"
			" WHERE d.num = ANY($1::bigint[]) ORDER BY d.time, d.num", &page, err);
		params_free(&page);
		if (r == NULL) {
			PQclear(nums);
			return -1;
		}
		for (k = 0; k < PQntuples(r) && !stop; k++) {
			arc_row row;
			arc_delivery *d = row_delivery(r, k, &row);
			stop = fn(ctx, d, &row) < 0;
			arc_delivery_free(d);
			pn_free(row.hold_reason);
		}
		PQclear(r);
	}
	PQclear(nums);
	return 0;
}

/* arc_pgindex_search - every delivery a query selects, oldest first */
int arc_pgindex_search(arc_pgindex *p, const arc_query *q, arc_row_fn fn, void *ctx, char **err)
{
	params pa = {{0}, 0};
	pn_buf sql;
	int rc = -1;

	*err = NULL;
	pn_buf_init(&sql, 0);
	pn_buf_puts(&sql, "SELECT d.num FROM archive_deliveries d");
	pthread_mutex_lock(&p->lock);
	if (build_where(q, &sql, &pa, err) == 0 && ensure(p, err) == 0) {
		pn_buf_puts(&sql, " ORDER BY d.time, d.num");
		rc = each_row(p, pn_buf_str(&sql), &pa, fn, ctx, err);
	}
	pthread_mutex_unlock(&p->lock);
	params_free(&pa);
	pn_buf_free(&sql);
	return rc;
}

/* arc_pgindex_expired - deliveries older than before and not under hold */
int arc_pgindex_expired(arc_pgindex *p, long long before, arc_row_fn fn, void *ctx, char **err)
{
	params pa = {{0}, 0};
	int rc = -1;

	*err = NULL;
	add_i(&pa, before);
	pthread_mutex_lock(&p->lock);
	if (ensure(p, err) == 0)
		rc = each_row(p, "SELECT d.num FROM archive_deliveries d WHERE d.time < $1::bigint"
			      " AND NOT EXISTS (SELECT 1 FROM archive_holds h WHERE h.id = d.id"
			      " AND h.held) ORDER BY d.time, d.num", &pa, fn, ctx, err);
	pthread_mutex_unlock(&p->lock);
	params_free(&pa);
	return rc;
}

/* arc_pgindex_stats - counts and sizes */
int arc_pgindex_stats(arc_pgindex *p, arc_stats *s)
{
	char *err = NULL;
	PGresult *r = NULL;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&p->lock);
	if (ensure(p, &err) == 0)
		r = run(p, "SELECT (SELECT count(*) FROM archive_deliveries),"
			" (SELECT count(*) FROM archive_objects),"
			" (SELECT count(*) FROM archive_objects WHERE encrypted),"
			" (SELECT count(*) FROM archive_holds h WHERE held"
			"  AND EXISTS (SELECT 1 FROM archive_deliveries d WHERE d.id = h.id)),"
			" (SELECT count(*) FROM archive_recipients),"
			" (SELECT COALESCE(sum(size), 0) FROM archive_deliveries),"
			" (SELECT COALESCE(sum(size), 0) FROM archive_objects),"
			" (SELECT COALESCE(sum(stored_size), 0) FROM archive_objects),"
			" (SELECT COALESCE(min(time), 0) FROM archive_deliveries),"
			" (SELECT COALESCE(max(time), 0) FROM archive_deliveries)", NULL, &err);
	pthread_mutex_unlock(&p->lock);
	if (r == NULL) {
		pn_warn("%s", err ? err : "index: no statistics");
		pn_free(err);
		return -1;
	}
	s->deliveries = atoll(PQgetvalue(r, 0, 0));
	s->objects = atoll(PQgetvalue(r, 0, 1));
	s->encrypted_objects = atoll(PQgetvalue(r, 0, 2));
	s->held = atoll(PQgetvalue(r, 0, 3));
	s->recipients = atoll(PQgetvalue(r, 0, 4));
	s->message_bytes = atoll(PQgetvalue(r, 0, 5));
	s->object_bytes = atoll(PQgetvalue(r, 0, 6));
	s->stored_bytes = atoll(PQgetvalue(r, 0, 7));
	s->oldest = atoll(PQgetvalue(r, 0, 8));
	s->newest = atoll(PQgetvalue(r, 0, 9));
	PQclear(r);
	return 0;
}

/* row_object - an object from sha256, size, stored_size, stored_sha256, encrypted, time */
static void row_object(const PGresult *r, int i, int first, arc_object *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->sha256, sizeof(o->sha256), "%s", PQgetvalue(r, i, first));
	o->size = strtoull(PQgetvalue(r, i, first + 1), NULL, 10);
	o->stored_size = strtoull(PQgetvalue(r, i, first + 2), NULL, 10);
	snprintf(o->stored_sha256, sizeof(o->stored_sha256), "%s", PQgetvalue(r, i, first + 3));
	o->encrypted = strcmp(PQgetvalue(r, i, first + 4), "t") == 0;
	o->time = atoll(PQgetvalue(r, i, first + 5));
}

/* arc_pgindex_object - an object's row: 0, 1 (not found) or -1 */
int arc_pgindex_object(arc_pgindex *p, const char *sha, arc_object *obj)
{
	params pa = {{0}, 0};
	PGresult *r = NULL;
	char *err = NULL;
	int rc = -1;

	add_s(&pa, sha);
	pthread_mutex_lock(&p->lock);
	if (ensure(p, &err) == 0)
		r = run(p, "SELECT sha256, size, stored_size, stored_sha256, encrypted, time"
			" FROM archive_objects WHERE sha256 = $1", &pa, &err);
	pthread_mutex_unlock(&p->lock);
	if (r) {
		rc = PQntuples(r) == 1 ? 0 : 1;
		if (rc == 0)
			row_object(r, 0, 0, obj);
		PQclear(r);
	}
	if (err)
		pn_debug("%s", err);
	pn_free(err);
	params_free(&pa);
	return rc;
}

/* arc_pgindex_each_object - every object row, by SHA-256, a page at a time */
int arc_pgindex_each_object(arc_pgindex *p, arc_object_fn fn, void *ctx)
{
	char last[65] = "", *err = NULL;
	int rc = 0, stop = 0, i, n;

	pthread_mutex_lock(&p->lock);
	if (ensure(p, &err) < 0)
		rc = -1;
	while (rc == 0 && !stop) {
		params pa = {{0}, 0};
		PGresult *r;
		add_s(&pa, last);
		r = run(p, "SELECT sha256, size, stored_size, stored_sha256, encrypted, time"
			" FROM archive_objects WHERE sha256 > $1 ORDER BY sha256 LIMIT 1000", &pa,
			&err);
		params_free(&pa);
		if (r == NULL) {
			rc = -1;
			break;
		}
		n = PQntuples(r);
		for (i = 0; i < n && !stop; i++) {
			arc_object o;
			row_object(r, i, 0, &o);
			snprintf(last, sizeof(last), "%s", o.sha256);
			stop = fn(ctx, &o) < 0;
		}
		PQclear(r);
		if (n < 1000)
			break;
	}
	pthread_mutex_unlock(&p->lock);
	if (err)
		pn_warn("%s", err);
	pn_free(err);
	return rc;
}

/* arc_pgindex_delete - remove deliveries (prune) in one transaction */
int arc_pgindex_delete(arc_pgindex *p, char **ids, size_t n, char **err)
{
	size_t i;
	int rc;

	*err = NULL;
	pthread_mutex_lock(&p->lock);
	rc = ensure(p, err);
	if (rc == 0)
		rc = begin(p, err);
	if (rc == 0) {
		for (i = 0; rc == 0 && i < n; i++)
			rc = delete_one(p, ids[i], err);
		rc = finish(p, rc, err);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* arc_pgindex_uses - how many deliveries use an object */
long long arc_pgindex_uses(arc_pgindex *p, const char *sha)
{
	params pa = {{0}, 0};
	PGresult *r = NULL;
	long long n = -1;
	char *err = NULL;

	add_s(&pa, sha);
	pthread_mutex_lock(&p->lock);
	if (ensure(p, &err) == 0)
		r = run(p, "SELECT count(*) FROM archive_deliveries WHERE sha256 = $1", &pa, &err);
	pthread_mutex_unlock(&p->lock);
	if (r) {
		n = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	} else {
		pn_warn("%s", err ? err : "index: cannot count");
	}
	pn_free(err);
	params_free(&pa);
	return n;
}

/* arc_pgindex_delete_object - forget an object row */
int arc_pgindex_delete_object(arc_pgindex *p, const char *sha)
{
	params pa = {{0}, 0};
	char *err = NULL;
	int rc = -1;

	add_s(&pa, sha);
	pthread_mutex_lock(&p->lock);
	if (ensure(p, &err) == 0
	    && run_ok(p, "DELETE FROM archive_objects WHERE sha256 = $1", &pa, &err) >= 0)
		rc = 0;
	pthread_mutex_unlock(&p->lock);
	if (err)
		pn_warn("%s", err);
	pn_free(err);
	params_free(&pa);
	return rc;
}
