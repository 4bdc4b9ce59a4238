/* SPDX-License-Identifier: BSD-2-Clause */
/* store_tools - postern-audit db and ship (see store_tools.h) */
#include "milters/audit/store_tools.h"
#include "common/alloc.h"
#include "common/pg.h"
#include "milters/audit/store.h"
#include "milters/audit/trail.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

/* audit_store_connect - the store's connection for a tool, or NULL with *rc */
PGconn *audit_store_connect(const audit_state *st, const char *conninfo, const char *tool,
			    int *rc)
{
	char *err = NULL;
	PGconn *c;

	if (conninfo == NULL)
		conninfo = st->store_connection;
	if (conninfo == NULL || !*conninfo) {
		fprintf(stderr, "postern-audit: %s: no database: set store = postgresql and "
			"store_connection, or give --connection STR\n", tool);
		*rc = EX_USAGE;
		return NULL;
	}
	if ((c = pn_pg_connect(conninfo, &err)) == NULL) {
		fprintf(stderr, "postern-audit: %s: %s\n", tool, err);
		pn_free(err);
		*rc = EX_TEMPFAIL;
	}
	return c;
}

/* connection_option - the --connection STR of db and ship; -1 on a usage error */
static int connection_option(int argc, char **argv, const char **conninfo)
{
	static const struct option opts[] = {
		{"connection", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}
	};
	int ch;

	*conninfo = NULL;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'c')
			return -1;
		*conninfo = optarg;
	}
	return 0;
}

/* db_status - the schema's version and what the table holds */
static int db_status(PGconn *c)
{
	char *err = NULL;
	PGresult *r;
	int v, i;

	if (pn_pg_schema_version(c, "audit", &v, &err) < 0) {
		fprintf(stderr, "postern-audit: db status: %s\n", err);
		pn_free(err);
		return EX_TEMPFAIL;
	}
	if (v == 0) {
		printf("audit schema: none (this program's: version %d): run postern-audit db "
		       "init\n", audit_store_nsteps);
		return 1;
	}
	printf("audit schema: version %d (this program's: %d)%s\n", v, audit_store_nsteps,
	       v == audit_store_nsteps ? ", current" : v < audit_store_nsteps
	       ? ": run postern-audit db upgrade" : ": newer than this program");
	if (v != audit_store_nsteps)
		return 1;
	r = pn_pg_query(c, "SELECT host, trail_id, count(*), min(seq), max(seq), max(ts)"
			" FROM audit_records GROUP BY host, trail_id ORDER BY host, trail_id",
			0, NULL, &err);
	if (r == NULL) {
		fprintf(stderr, "postern-audit: db status: %s\n", err);
		pn_free(err);
		return EX_TEMPFAIL;
	}
	for (i = 0; i < PQntuples(r); i++)
		printf("host %s trail %s: %s records, seq %s..%s, last %s\n", PQgetvalue(r, i, 0),
		       PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		       PQgetvalue(r, i, 4), PQgetisnull(r, i, 5) ? "-" : PQgetvalue(r, i, 5));
	if (PQntuples(r) == 0)
		printf("no records yet\n");
	PQclear(r);
	return 0;
}

/* audit_tool_db - db init|upgrade|status */
int audit_tool_db(const pn_config *cfg, void *state, int argc, char **argv)
{
	const char *conninfo, *what = argc > 1 ? argv[1] : "";
	char *err = NULL;
	PGconn *c;
	int rc = 0, from;

	(void)cfg;
	if (strcmp(what, "init") != 0 && strcmp(what, "upgrade") != 0
	    && strcmp(what, "status") != 0) {
		fprintf(stderr, "usage: postern-audit db init|upgrade|status [--connection STR]\n");
		return EX_USAGE;
	}
	if (connection_option(argc - 1, argv + 1, &conninfo) < 0 || optind < argc - 1) {
		fprintf(stderr, "usage: postern-audit db init|upgrade|status [--connection STR]\n");
		return EX_USAGE;
	}
	if ((c = audit_store_connect(state, conninfo, "db", &rc)) == NULL)
		return rc;
	if (strcmp(what, "status") == 0) {
		rc = db_status(c);
	} else if (pn_pg_migrate(c, "audit", audit_store_steps, audit_store_nsteps,
				 strcmp(what, "init") == 0, &from, &err) < 0) {
		fprintf(stderr, "postern-audit: db %s: %s\n", what, err);
		pn_free(err);
		rc = EX_SOFTWARE;
	} else if (from == audit_store_nsteps) {
		printf("audit schema: version %d, current already\n", from);
	} else {
		printf("audit schema: version %d -> %d\n", from, audit_store_nsteps);
	}
	PQfinish(c);
	return rc;
}

/* audit_tool_ship - one shipping pass of the configured trail */
int audit_tool_ship(const pn_config *cfg, void *state, int argc, char **argv)
{
	const audit_state *st = state;
	const char *conninfo;
	audit_ship_result res;
	audit_ship *sh;
	char *head, *err = NULL;
	int rc;

	if (connection_option(argc, argv, &conninfo) < 0 || optind < argc) {
		fprintf(stderr, "usage: postern-audit ship [--connection STR]\n");
		return EX_USAGE;
	}
	if (conninfo == NULL && st->store_connection == NULL) {
		fprintf(stderr, "postern-audit: ship: store = none: set store = postgresql and "
			"store_connection, or give --connection STR\n");
		return EX_USAGE;
	}
	if (st->trail_file[0] == '\0') {
		fprintf(stderr, "postern-audit: ship: no trail_file configured\n");
		return EX_USAGE;
	}
	head = audit_trail_head_path(st->trail_file, pn_config_str(cfg, "head_file"));
	sh = audit_ship_new(st->trail_file, head, conninfo ? conninfo : st->store_connection,
			    AUDIT_SHIP_BATCH);
	pn_free(head);
	if (audit_ship_pass(sh, &res, &err) < 0) {
		fprintf(stderr, "postern-audit: ship: %s: records not shipped (they stay in the "
			"trail)\n", err);
		pn_free(err);
		audit_ship_free(sh);
		return EX_TEMPFAIL;
	}
	if (res.trail_id[0])
		printf("shipped %llu record%s; trail %s is in the database up to seq %llu\n",
		       res.shipped, res.shipped == 1 ? "" : "s", res.trail_id, res.last_seq);
	else
		printf("nothing to ship: the trail has no records (or no trail identity) yet\n");
	rc = 0;
	if (res.conflicts) {
		fprintf(stderr, "postern-audit: ship: %llu row%s in the database differ%s from the "
			"trail's records: run postern-audit verify --database\n", res.conflicts,
			res.conflicts == 1 ? "" : "s", res.conflicts == 1 ? "s" : "");
		rc = EX_DATAERR;
	}
	audit_ship_free(sh);
	return rc;
}
