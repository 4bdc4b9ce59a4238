/* SPDX-License-Identifier: BSD-2-Clause */
/* dbtool - postern-archive db init|upgrade|status (see dbtool.h) */
#include "milters/archive/dbtool.h"
#include "milters/archive/index_pg.h"
#include "common/alloc.h"
#include "common/pg.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#define PROG "postern-archive"

/* The tables status counts, in the order it prints them. */
static const char *const tables[] = {
	"archive_deliveries", "archive_recipients", "archive_objects", "archive_fulltext",
	"archive_holds", "archive_voids", "archive_journal_applied",
};

/* migrate - init (create 1) or upgrade (create 0) */
static int migrate(PGconn *c, int create)
{
	char *err = NULL;
	int from = 0, v;

	/* refusals first, with the command that helps */
	if (pn_pg_schema_version(c, "archive", &v, &err) < 0) {
		fprintf(stderr, PROG ": db: %s\n", err);
		pn_free(err);
		return EX_SOFTWARE;
	}
	if (create && v > 0) {
		fprintf(stderr, PROG ": db init: the archive schema exists already (version %d):"
			" nothing done (db upgrade brings it to version %d)\n", v, arc_pg_version);
		return 1;
	}
	if (!create && v == 0) {
		fprintf(stderr, PROG ": db upgrade: there is no archive schema: run "
			PROG " db init\n");
		return 1;
	}
	if (v > arc_pg_version) {
		fprintf(stderr, PROG ": db: the archive schema is version %d, newer than this"
			" program's %d: upgrade Postern\n", v, arc_pg_version);
		return 1;
	}
	if (!create && v == arc_pg_version) {
		printf("archive schema: version %d, current: nothing to do\n", v);
		return 0;
	}
	if (pn_pg_migrate(c, "archive", arc_pg_steps, arc_pg_version, create, &from, &err) < 0) {
		/* the usual mistake: the service's role instead of the owner */
		int denied = strstr(err, "permission denied") != NULL;
		fprintf(stderr, PROG ": db %s: %s%s\n", create ? "init" : "upgrade", err,
			denied ? " (db init and db upgrade run as the database owner,"
			" postern_owner: --connection)" : "");
		pn_free(err);
		return denied ? EX_NOPERM : EX_SOFTWARE;
	}
	if (create)
		printf("archive schema: created, version %d\n", arc_pg_version);
	else
		printf("archive schema: upgraded from version %d to %d\n", from, arc_pg_version);
	return 0;
}

/* status - versions and row counts */
static int status(PGconn *c)
{
	char *err = NULL;
	size_t i;
	int v;

	if (pn_pg_schema_version(c, "archive", &v, &err) < 0) {
		fprintf(stderr, PROG ": db status: %s\n", err);
		pn_free(err);
		return EX_SOFTWARE;
	}
	printf("schema version: %d\nprogram version: %d\n", v, arc_pg_version);
	if (v == 0) {
		printf("state: no schema (run " PROG " db init)\n");
		return 1;
	}
	printf("state: %s\n", v == arc_pg_version ? "current"
	       : v < arc_pg_version ? "old (run " PROG " db upgrade)" : "newer than this program");
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char *sql = pn_asprintf("SELECT count(*) FROM %s", tables[i]);
		PGresult *r = pn_pg_query(c, sql, 0, NULL, &err);
		pn_free(sql);
		if (r == NULL) {
			fprintf(stderr, PROG ": db status: %s\n", err);
			pn_free(err);
			return EX_SOFTWARE;
		}
		printf("%s: %s\n", tables[i], PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return v == arc_pg_version ? 0 : 1;
}

/* arc_tool_db - db init|upgrade|status [--connection STR] */
int arc_tool_db(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"connection", required_argument, NULL, 'C'},
		{NULL, 0, NULL, 0}
	};
	const char *conninfo = pn_config_str(cfg, "index_connection"), *what;
	char *err = NULL;
	PGconn *c;
	int ch, rc;

	(void)state;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'C')
			return EX_USAGE;
		conninfo = optarg;
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "init") != 0
				   && strcmp(argv[optind], "upgrade") != 0
				   && strcmp(argv[optind], "status") != 0)) {
		fprintf(stderr, "usage: " PROG " db init|upgrade|status [--connection STR]\n");
		return EX_USAGE;
	}
	what = argv[optind];
	if (*conninfo == '\0') {
		fprintf(stderr, PROG ": db %s: no connection string: set index_connection in %s or"
			" give --connection\n", what, pn_config_path(cfg));
		return EX_CONFIG;
	}
	if ((c = pn_pg_connect(conninfo, &err)) == NULL) {
		fprintf(stderr, PROG ": db %s: %s\n", what, err);
		pn_free(err);
		return EX_TEMPFAIL;
	}
	if (strcmp(what, "status") == 0)
		rc = status(c);
	else
		rc = migrate(c, strcmp(what, "init") == 0);
	PQfinish(c);
	if (fflush(stdout) != 0)
		rc = EX_IOERR;
	return rc;
}
