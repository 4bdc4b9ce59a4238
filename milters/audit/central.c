/* SPDX-License-Identifier: BSD-2-Clause */
/* central - export and verify the central audit store (see central.h) */
#include "milters/audit/central.h"
#include "common/alloc.h"
#include "common/pg.h"
#include "milters/audit/chain.h"

#include <stdlib.h>
#include <string.h>

/* row_fn - one fetched row; 0 goes on, 1 stops reading */
typedef int (*row_fn)(PGresult *r, int row, void *ctx);

/* each_row - run a query through a cursor, AUDIT_CENTRAL_FETCH rows at a time */
static int each_row(PGconn *c, const char *query, row_fn fn, void *ctx, char **err)
{
	char *declare = pn_asprintf("DECLARE postern_audit_rows NO SCROLL CURSOR FOR %s", query);
	char fetch[64];
	int rc = 0, stop = 0;

	snprintf(fetch, sizeof(fetch), "FETCH %d FROM postern_audit_rows", AUDIT_CENTRAL_FETCH);
	/* one snapshot for the whole read: rows shipped meanwhile wait for the next run */
	if (pn_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0) {
		pn_free(declare);
		return -1;
	}
	if (pn_pg_exec(c, declare, err) < 0)
		rc = -1;
	while (rc == 0 && !stop) {
		PGresult *r = pn_pg_query(c, fetch, 0, NULL, err);
		int i, n;

		if (r == NULL) {
			rc = -1;
			break;
		}
		n = PQntuples(r);
		for (i = 0; i < n && !stop; i++)
			stop = fn(r, i, ctx);
		PQclear(r);
		if (n < AUDIT_CENTRAL_FETCH)
			break;
	}
	PQclear(PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK"));
	pn_free(declare);
	return rc;
}

/* export_row - one record to the export */
static int export_row(PGresult *r, int row, void *ctx)
{
	audit_export *x = ctx;

	audit_export_line(x, PQgetvalue(r, row, 0), (size_t)PQgetlength(r, row, 0));
	return 0;
}

/* audit_central_export - every host's records, by ts, host, seq */
int audit_central_export(PGconn *c, audit_export *x, const audit_filter *f, char **err)
{
	char where[160] = "";
	char *query;
	int rc;

	/* Whole seconds with a margin: audit_export_line() applies the exact bounds. */
	if (f->has_since)
		snprintf(where, sizeof(where), " AND ts >= to_timestamp(%lld)",
			 f->since_ms / 1000 - 1);
	if (f->has_until)
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
			 " AND ts < to_timestamp(%lld)", f->until_ms / 1000 + 2);
	query = pn_asprintf("SELECT record FROM audit_records WHERE event NOT IN ('trail-start', "
			    "'key-change')%s ORDER BY ts, host, seq", where);
	rc = each_row(c, query, export_row, x, err);
	pn_free(query);
	return rc;
}

/* One trail being verified. */
typedef struct trail_check {
	audit_verifier *v;
	const char *where;
	FILE *out;
	int broken;
} trail_check;

/* verify_row - one row of one trail: its columns, then its text */
static int verify_row(PGresult *r, int row, void *ctx)
{
	trail_check *t = ctx;
	const char *line = PQgetvalue(r, row, 1), *hash = PQgetvalue(r, row, 2);
	size_t len = (size_t)PQgetlength(r, row, 1);
	unsigned long long seq = strtoull(PQgetvalue(r, row, 0), NULL, 10);
	char *why = NULL;
	audit_link l;

	if (audit_chain_parse(line, len, &l, &why) == 0 && (l.seq != seq
							      || strcmp(l.hash, hash) != 0)) {
		fprintf(t->out, "%s seq %llu: the row's %s is not its record's (%s): the row was "
			"edited\n", t->where, seq, l.seq != seq ? "seq" : "hash",
			l.seq != seq ? "another seq" : "another SHA-256");
		t->broken = 1;
		return 1;
	}
	pn_free(why);
	if (audit_verifier_line(t->v, line, len, 1, t->where, (unsigned long)seq) != 0) {
		t->broken = 1;
		return 1;
	}
	return audit_verifier_done(t->v);
}

/* verify_trail - one (host, trail id): 0 intact, 1 not, -1 query failed */
static int verify_trail(PGconn *c, const char *host, const char *id,
			const audit_verify_opts *base, FILE *out, char **err)
{
	audit_verify_opts o = *base;
	char *qhost = PQescapeLiteral(c, host, strlen(host));
	char *qid = PQescapeLiteral(c, id, strlen(id));
	char *query, *where;
	trail_check t;
	int rc;

	if (qhost == NULL || qid == NULL) {
		*err = pn_asprintf("cannot quote: %s", PQerrorMessage(c));
		PQfreemem(qhost);
		PQfreemem(qid);
		return -1;
	}
	query = pn_asprintf("SELECT seq, record, hash FROM audit_records WHERE host = %s AND "
			    "trail_id = %s ORDER BY seq", qhost, qid);
	PQfreemem(qhost);
	PQfreemem(qid);
	where = pn_asprintf("host %s trail %s", host, id);
	o.host = host;
	memset(&t, 0, sizeof(t));
	t.where = where;
	t.out = out;
	t.v = audit_verifier_new(&o, " seq ", out);
	rc = each_row(c, query, verify_row, &t, err);
	if (rc == 0) {
		if (t.broken) {
			/* the verifier printed why (or verify_row did) */
			audit_verifier_abandon(t.v);
			rc = 1;
		} else {
			fprintf(out, "%s: ", where);
			rc = audit_verifier_finish(t.v);
		}
	} else {
		audit_verifier_abandon(t.v);
	}
	pn_free(query);
	pn_free(where);
	return rc;
}

/* audit_central_verify - every trail of every host */
int audit_central_verify(PGconn *c, const audit_verify_opts *o, FILE *out, char **err)
{
	PGresult *r = pn_pg_query(c, "SELECT DISTINCT host, trail_id FROM audit_records "
				  "ORDER BY host, trail_id", 0, NULL, err);
	int i, n, rc = 0, one;

	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n == 0)
		fprintf(out, "no records in the database: nothing to verify\n");
	for (i = 0; i < n; i++) {
		if ((one = verify_trail(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), o, out, err))
		    < 0) {
			PQclear(r);
			return -1;
		}
		rc |= one;
	}
	PQclear(r);
	return rc;
}
