/* SPDX-License-Identifier: BSD-2-Clause */
/* store - ship the local trail to the central audit store (see store.h) */
#include "milters/audit/store.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/pg.h"
#include "milters/audit/chain.h"
#include "milters/audit/export.h"
#include "milters/audit/reader.h"
#include "milters/audit/trail.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Version 1: the records, and who may do what. The writer role may add
 * and read rows, never change them; the auditor only reads. */
const char *const audit_store_steps[] = {
	"CREATE TABLE audit_records ("
	" host text NOT NULL,"
	" trail_id text NOT NULL,"
	" seq bigint NOT NULL CHECK (seq >= 1),"
	" hash text NOT NULL,"
	" prev text NOT NULL,"
	" ts timestamptz,"
	" event text NOT NULL DEFAULT '',"
	" record text NOT NULL,"
	" shipped timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (trail_id, seq));"
	"CREATE INDEX audit_records_ts ON audit_records (ts, host, seq);"
	"CREATE INDEX audit_records_host ON audit_records (host, trail_id, seq);"
	"REVOKE ALL ON audit_records FROM PUBLIC;"
	"GRANT SELECT, INSERT ON audit_records TO postern_audit;"
	"GRANT SELECT ON audit_records TO postern_auditor;"
	"GRANT SELECT ON postern_schema TO postern_audit, postern_auditor;",
};
const int audit_store_nsteps = (int)(sizeof(audit_store_steps) / sizeof(audit_store_steps[0]));

/* One record waiting for its transaction. */
typedef struct pending {
	char *line;
	unsigned long long seq;
	char hash[PN_SHA256_HEX_LEN + 1], prev[PN_SHA256_HEX_LEN + 1];
	char event[24];
	char ts[40];			/* "" when the record has none readable */
} pending;

struct audit_ship {
	char *trail_path, *head_path, *conninfo;
	size_t batch;
	PGconn *conn;
	int checked;			/* the schema version was checked on conn */
	int backend;			/* ... whose server process this is */
	/* the trail being shipped */
	char trail_id[AUDIT_TRAIL_ID_LEN + 1];
	char host[256];
	int known;			/* shipped holds the database's max(seq) */
	unsigned long long shipped;
	char shipped_hash[PN_SHA256_HEX_LEN + 1];	/* its hash as the database has it */
	/* how far the current file was read (valid while have_pos) */
	int have_pos;
	dev_t dev;
	ino_t ino;
	off_t off;
	/* this pass */
	pending *queue;
	size_t nqueue;
	off_t queued_off;		/* position after the last line queued or skipped */
	audit_ship_result *res;
};

/* audit_ship_new - a shipper for one trail; nothing is opened yet */
audit_ship *audit_ship_new(const char *trail_path, const char *head_path, const char *conninfo,
			   size_t batch)
{
	audit_ship *sh = pn_calloc(1, sizeof(*sh));

	sh->trail_path = pn_strdup(trail_path);
	sh->head_path = pn_strdup(head_path ? head_path : "");
	sh->conninfo = pn_strdup(conninfo);
	sh->batch = batch ? batch : AUDIT_SHIP_BATCH;
	sh->queue = pn_calloc(sh->batch, sizeof(pending));
	return sh;
}

/* audit_ship_set_conninfo - connect with this string from the next pass on */
void audit_ship_set_conninfo(audit_ship *sh, const char *conninfo)
{
	if (strcmp(sh->conninfo, conninfo) == 0)
		return;
	pn_free(sh->conninfo);
	sh->conninfo = pn_strdup(conninfo);
	if (sh->conn)
		PQfinish(sh->conn);
	sh->conn = NULL;
	sh->checked = 0;
	sh->known = 0;
}

/* drop_queue - forget the records waiting */
static void drop_queue(audit_ship *sh)
{
	size_t i;

	for (i = 0; i < sh->nqueue; i++)
		pn_free(sh->queue[i].line);
	sh->nqueue = 0;
}

/* audit_ship_free - close the connection and free */
void audit_ship_free(audit_ship *sh)
{
	if (sh == NULL)
		return;
	drop_queue(sh);
	pn_free(sh->queue);
	if (sh->conn)
		PQfinish(sh->conn);
	pn_free(sh->trail_path);
	pn_free(sh->head_path);
	pn_free(sh->conninfo);
	pn_free(sh);
}

/* forget - after a failure: ask the database again and read from the start */
static void forget(audit_ship *sh)
{
	drop_queue(sh);
	sh->known = 0;
	sh->have_pos = 0;
}

/* query_shipped - the highest seq the table holds for the current trail */
static int query_shipped(audit_ship *sh, char **err)
{
	const char *p[] = { sh->trail_id };
	PGresult *r = pn_pg_query(sh->conn, "SELECT seq, hash FROM audit_records WHERE trail_id = $1"
				  " ORDER BY seq DESC LIMIT 1", 1, p, err);

	if (r == NULL)
		return -1;
	sh->shipped = 0;
	sh->shipped_hash[0] = '\0';
	if (PQntuples(r) == 1) {
		sh->shipped = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		snprintf(sh->shipped_hash, sizeof(sh->shipped_hash), "%s", PQgetvalue(r, 0, 1));
	}
	sh->known = 1;
	PQclear(r);
	return 0;
}

/* conflict - the database holds another record under (trail_id, seq): say so */
static void conflict(audit_ship *sh, unsigned long long seq, const char *have, const char *want)
{
	pn_log(PN_LOG_FATAL, "audit store: trail %s seq %llu (host %s): the database holds "
	       "another record there (SHA-256 %s, the trail's is %s): left as it is; run "
	       "postern-audit verify --database", sh->trail_id, seq, sh->host, have, want);
	sh->res->conflicts++;
}

/* insert_sql - one INSERT of n rows: $1 host, $2 trail id, then 6 parameters a row */
static char *insert_sql(size_t n)
{
	pn_buf sql;
	size_t i;
	char *text;

	pn_buf_init(&sql, 0);
	pn_buf_puts(&sql, "INSERT INTO audit_records (host, trail_id, seq, hash, prev, ts, event, "
		    "record) VALUES ");
	for (i = 0; i < n; i++) {
		size_t k = 3 + 6 * i;
		pn_buf_printf(&sql, "%s($1, $2, $%zu::bigint, $%zu, $%zu, $%zu::timestamptz, $%zu, "
			      "$%zu)", i ? ", " : "", k, k + 1, k + 2, k + 3, k + 4, k + 5);
	}
	pn_buf_puts(&sql, " ON CONFLICT (trail_id, seq) DO NOTHING RETURNING seq");
	text = pn_strdup(pn_buf_str(&sql));
	pn_buf_free(&sql);
	return text;
}

/* check_left_out - the rows the insert found there already: the same record? */
static int check_left_out(audit_ship *sh, const char *inserted, char **err)
{
	pn_buf seqs;
	const char *p[2];
	PGresult *r;
	size_t i;
	int j;

	pn_buf_init(&seqs, 0);
	for (i = 0; i < sh->nqueue; i++)
		if (!inserted[i])
			pn_buf_printf(&seqs, "%s%llu", seqs.len ? "," : "{", sh->queue[i].seq);
	if (seqs.len == 0) {
		pn_buf_free(&seqs);
		return 0;
	}
	pn_buf_puts(&seqs, "}");
	p[0] = sh->trail_id;
	p[1] = pn_buf_str(&seqs);
	r = pn_pg_query(sh->conn, "SELECT seq, hash FROM audit_records WHERE trail_id = $1 AND "
			"seq = ANY($2::bigint[])", 2, p, err);
	pn_buf_free(&seqs);
	if (r == NULL)
		return -1;
	for (j = 0; j < PQntuples(r); j++) {
		unsigned long long seq = strtoull(PQgetvalue(r, j, 0), NULL, 10);
		for (i = 0; i < sh->nqueue; i++)
			if (!inserted[i] && sh->queue[i].seq == seq
			    && strcmp(PQgetvalue(r, j, 1), sh->queue[i].hash) != 0)
				conflict(sh, seq, PQgetvalue(r, j, 1), sh->queue[i].hash);
	}
	PQclear(r);
	return 0;
}

/* flush - the records waiting, in one transaction and one INSERT; 0 or -1 */
static int flush(audit_ship *sh, char **err)
{
	size_t i, np = 2 + 6 * sh->nqueue;
	const char **p;
	char (*seqs)[24], *sql, *inserted;
	PGresult *r;
	int j, rc = -1;

	if (sh->nqueue == 0)
		return 0;
	p = pn_calloc(np, sizeof(*p));
	seqs = pn_calloc(sh->nqueue, sizeof(*seqs));
	inserted = pn_calloc(sh->nqueue, 1);
	p[0] = sh->host;
	p[1] = sh->trail_id;
	for (i = 0; i < sh->nqueue; i++) {
		pending *q = &sh->queue[i];
		snprintf(seqs[i], sizeof(seqs[i]), "%llu", q->seq);
		p[2 + 6 * i] = seqs[i];
		p[3 + 6 * i] = q->hash;
		p[4 + 6 * i] = q->prev;
		p[5 + 6 * i] = q->ts[0] ? q->ts : NULL;
		p[6 + 6 * i] = q->event;
		p[7 + 6 * i] = q->line;
	}
	sql = insert_sql(sh->nqueue);
	if (pn_pg_exec(sh->conn, "BEGIN", err) < 0)
		goto out;
	if ((r = pn_pg_query(sh->conn, sql, (int)np, p, err)) == NULL)
		goto out;	/* rolled back by the pass */
	/* RETURNING names the rows this insert made; the others were there */
	for (j = 0; j < PQntuples(r); j++) {
		unsigned long long seq = strtoull(PQgetvalue(r, j, 0), NULL, 10);
		for (i = 0; i < sh->nqueue; i++)
			if (sh->queue[i].seq == seq && !inserted[i]) {
				inserted[i] = 1;
				break;
			}
	}
	sh->res->shipped += (unsigned long long)PQntuples(r);
	PQclear(r);
	if (check_left_out(sh, inserted, err) < 0 || pn_pg_exec(sh->conn, "COMMIT", err) < 0)
		goto out;
	sh->shipped = sh->queue[sh->nqueue - 1].seq;
	memcpy(sh->shipped_hash, sh->queue[sh->nqueue - 1].hash, sizeof(sh->shipped_hash));
	drop_queue(sh);
	rc = 0;
out:
	pn_free(sql);
	pn_free(inserted);
	pn_free(seqs);
	pn_free(p);
	return rc;
}

/* member_str - a string member of a record, or NULL */
static const char *member_str(json_object *o, const char *name)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* switch_trail - records from here on belong to trail id of host */
static int switch_trail(audit_ship *sh, const char *id, const char *host, char **err)
{
	if (strcmp(sh->trail_id, id) == 0)
		return 0;
	if (flush(sh, err) < 0)
		return -1;
	snprintf(sh->trail_id, sizeof(sh->trail_id), "%s", id);
	snprintf(sh->host, sizeof(sh->host), "%s", host ? host : "");
	sh->known = 0;
	return query_shipped(sh, err);
}

/* take_line - one complete line of the trail; 0, or -1 (database) */
static int take_line(audit_ship *sh, const char *line, size_t len, const char *file,
		     unsigned long n, char **err)
{
	json_object *o = NULL;
	audit_link l;
	pending *q;
	char *why = NULL, *copy;
	const char *ts;
	long long ms;

	if (audit_chain_parse(line, len, &l, &why) < 0) {
		pn_log(PN_LOG_WARN, "audit store: %s:%lu: not a record (%s): not shipped", file, n,
		       why);
		pn_free(why);
		return 0;
	}
	copy = pn_memdup0(line, len);
	o = json_tokener_parse(copy);
	if (strcmp(l.event, "trail-start") == 0 && member_str(o, "trail_id")
	    && switch_trail(sh, member_str(o, "trail_id"), member_str(o, "host"), err) < 0) {
		json_object_put(o);
		pn_free(copy);
		return -1;
	}
	if (sh->trail_id[0] && l.seq == sh->shipped && sh->shipped_hash[0]
	    && strcmp(l.hash, sh->shipped_hash) != 0) {
		/* where shipping resumes, the database must hold this very record */
		conflict(sh, l.seq, sh->shipped_hash, l.hash);
		sh->shipped_hash[0] = '\0';	/* said once */
	}
	if (!sh->trail_id[0] || l.seq <= sh->shipped) {
		/* shipped before (or a trail without identity: nothing to key it by) */
		json_object_put(o);
		pn_free(copy);
		return 0;
	}
	q = &sh->queue[sh->nqueue++];
	q->line = copy;
	q->seq = l.seq;
	memcpy(q->hash, l.hash, sizeof(q->hash));
	memcpy(q->prev, l.prev, sizeof(q->prev));
	snprintf(q->event, sizeof(q->event), "%s", l.event);
	ts = member_str(o, "ts");
	q->ts[0] = '\0';
	if (ts && strlen(ts) < sizeof(q->ts) && audit_time_parse(ts, &ms) == 0)
		snprintf(q->ts, sizeof(q->ts), "%s", ts);
	json_object_put(o);
	if (sh->nqueue == sh->batch)
		return flush(sh, err);
	return 0;
}

/* read_current - the trail file itself from offset off; 0 or -1 */
static int read_current(audit_ship *sh, off_t off, char **err)
{
	FILE *f = fopen(sh->trail_path, "re");
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long n = 0;
	int rc = 0;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;	/* not written yet, or rotated away this instant */
		*err = pn_asprintf("%s: %s", sh->trail_path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size < off)
		off = 0;	/* shrunk (copytruncate): everything again */
	if (off && fseeko(f, off, SEEK_SET) < 0)
		off = 0;
	while ((got = getline(&line, &cap, f)) > 0) {
		n++;
		if (line[got - 1] != '\n')
			break;	/* being written, or cut short: not a record yet */
		if ((rc = take_line(sh, line, (size_t)got - 1, sh->trail_path, n, err)) < 0)
			break;
		off += got;
		sh->queued_off = off;
	}
	pn_free(line);
	if (rc == 0 && (rc = flush(sh, err)) == 0) {
		sh->have_pos = 1;
		sh->dev = st.st_dev;
		sh->ino = st.st_ino;
		sh->off = sh->queued_off;
	}
	fclose(f);
	return rc;
}

/* read_rotated - one rotated (maybe compressed) file; 0 or -1 */
static int read_rotated(audit_ship *sh, const char *file, char **err)
{
	audit_reader *r = audit_reader_open(file, err);
	const char *line;
	char *why = NULL;
	size_t len;
	int complete, got, rc = 0;

	if (r == NULL)
		return -1;
	while ((got = audit_reader_line(r, &line, &len, &complete)) == 1 && complete)
		if ((rc = take_line(sh, line, len, file, audit_reader_lineno(r), err)) < 0)
			break;
	if (rc == 0 && got < 0) {
		*err = pn_asprintf("%s: read error or line too long", file);
		rc = -1;
	}
	if (audit_reader_close(r, &why) < 0 && rc == 0) {
		*err = why;
		return -1;
	}
	pn_free(why);
	return rc;
}

/* first_identity - the trail id of the first trail-start in the files */
static void first_identity(audit_ship *sh, char **files)
{
	size_t i;

	for (i = 0; files[i] && !sh->trail_id[0]; i++) {
		char *why = NULL;
		audit_reader *r = audit_reader_open(files[i], &why);
		const char *line;
		size_t len;
		int complete;

		pn_free(why);
		if (r == NULL)
			continue;
		while (audit_reader_line(r, &line, &len, &complete) == 1 && complete) {
			audit_link l;
			json_object *o;
			char *copy;

			if (audit_chain_parse(line, len, &l, &why) < 0) {
				pn_free(why);
				why = NULL;
				continue;
			}
			if (strcmp(l.event, "trail-start") != 0)
				continue;
			copy = pn_memdup0(line, len);
			if ((o = json_tokener_parse(copy)) && member_str(o, "trail_id")) {
				snprintf(sh->trail_id, sizeof(sh->trail_id), "%s",
					 member_str(o, "trail_id"));
				snprintf(sh->host, sizeof(sh->host), "%s",
					 member_str(o, "host") ? member_str(o, "host") : "");
			}
			json_object_put(o);
			pn_free(copy);
			break;
		}
		audit_reader_close(r, &why);
		pn_free(why);
	}
}

/* identity - the trail id to start the pass with: the head file's, else the files' */
static void identity(audit_ship *sh, char **files)
{
	audit_headfile hf;
	char *why = NULL;

	if (sh->head_path[0] && audit_headfile_read(sh->head_path, &hf, &why) == 1) {
		if (strcmp(hf.trail_id, sh->trail_id) != 0) {
			snprintf(sh->trail_id, sizeof(sh->trail_id), "%s", hf.trail_id);
			snprintf(sh->host, sizeof(sh->host), "%s", hf.host);
			sh->known = 0;
		}
		return;
	}
	pn_free(why);
	if (!sh->trail_id[0])
		first_identity(sh, files);
}

/* full_pass - every file of the trail, skipping what the database has */
static int full_pass(audit_ship *sh, char **err)
{
	char **files = audit_trail_files(sh->trail_path);
	size_t i;
	int rc = 0;

	identity(sh, files);
	if (sh->trail_id[0] && !sh->known)
		rc = query_shipped(sh, err);
	for (i = 0; rc == 0 && files[i]; i++)
		if (strcmp(files[i], sh->trail_path) != 0)
			rc = read_rotated(sh, files[i], err);
	if (rc == 0)
		rc = flush(sh, err);
	if (rc == 0)
		rc = read_current(sh, 0, err);
	for (i = 0; files[i]; i++)
		pn_free(files[i]);
	pn_free(files);
	return rc;
}

/* connect_db - a usable connection on a current schema */
static int connect_db(audit_ship *sh, char **err)
{
	if (pn_pg_alive(&sh->conn, sh->conninfo, err) < 0) {
		sh->checked = 0;
		return -1;
	}
	/* pn_pg_alive() reconnects on its own: another server process means
	 * another connection, maybe to a server restored meanwhile */
	if (PQbackendPID(sh->conn) != sh->backend)
		sh->checked = 0;
	if (!sh->checked) {
		/* a new connection: the database may have been restored meanwhile */
		sh->known = 0;
		sh->have_pos = 0;
		if (pn_pg_require(sh->conn, "audit", audit_store_nsteps, "postern-audit", err) < 0)
			return -1;
		sh->checked = 1;
		sh->backend = PQbackendPID(sh->conn);
	}
	return 0;
}

/* audit_ship_pass - ship what the table does not have yet */
int audit_ship_pass(audit_ship *sh, audit_ship_result *res, char **err)
{
	struct stat st;
	int rc;

	memset(res, 0, sizeof(*res));
	sh->res = res;
	*err = NULL;
	if (connect_db(sh, err) < 0) {
		forget(sh);
		return -1;
	}
	if (sh->have_pos && sh->known && stat(sh->trail_path, &st) == 0 && st.st_dev == sh->dev
	    && st.st_ino == sh->ino && st.st_size >= sh->off) {
		/* the same file as last time, grown or not: only what is new */
		sh->queued_off = sh->off;
		rc = st.st_size == sh->off ? 0 : read_current(sh, sh->off, err);
	} else {
		sh->queued_off = 0;
		rc = full_pass(sh, err);
	}
	if (rc < 0) {
		if (sh->conn && PQtransactionStatus(sh->conn) != PQTRANS_IDLE)
			PQclear(PQexec(sh->conn, "ROLLBACK"));
		forget(sh);
		return -1;
	}
	snprintf(res->trail_id, sizeof(res->trail_id), "%s", sh->trail_id);
	res->last_seq = sh->shipped;
	return 0;
}
