/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pg - PostgreSQL connections and versioned schemas (see pg.h).
 */
#include "common/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static char *pg_error(PGconn *c, const char *what)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t n = strlen(m);

	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return pn_asprintf("%s: %.*s", what, (int)n, m);
}

PGconn *pn_pg_connect(const char *conninfo, char **err)
{
	char timeout[16];
	/* Defaults first: libpq keeps the last value of a repeated key, and
	 * the expanded conninfo (dbname) comes last, so the user's wins. */
	const char *keys[] = { "connect_timeout", "application_name", "keepalives_idle",
			       "keepalives_interval", "keepalives_count", "tcp_user_timeout",
			       "dbname", NULL };
	const char *vals[] = { timeout, "postern", "10", "5", "3", PN_PG_TCP_TIMEOUT_MS,
			       conninfo, NULL };
	PGconn *c;

	snprintf(timeout, sizeof timeout, "%d", PN_PG_CONNECT_TIMEOUT);
	c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		*err = pg_error(c, "cannot connect to PostgreSQL");
		PQfinish(c);
		return NULL;
	}
	return c;
}

int pn_pg_alive(PGconn **c, const char *conninfo, char **err)
{
	if (*c && PQstatus(*c) == CONNECTION_OK) {
		PGresult *r = PQexec(*c, "SELECT 1");
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK;

		PQclear(r);
		if (ok)
			return 0;
	}
	PQfinish(*c);
	*c = pn_pg_connect(conninfo, err);
	return *c ? 0 : -1;
}

int pn_pg_exec(PGconn *c, const char *sql, char **err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		*err = pg_error(c, "PostgreSQL");
		rc = -1;
	}
	PQclear(r);
	return rc;
}

PGresult *pn_pg_query(PGconn *c, const char *sql, int nparams, const char *const *params,
		      char **err)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		*err = pg_error(c, "PostgreSQL");
		PQclear(r);
		return NULL;
	}
	return r;
}

static int recorded_version(PGconn *c, const char *component, int lock, int *version,
			    char **err)
{
	const char *p[] = { component };
	PGresult *r;

	*version = 0;
	r = pn_pg_query(c, "SELECT to_regclass('postern_schema') IS NOT NULL", 0, NULL, err);
	if (!r)
		return -1;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		return 0;
	}
	PQclear(r);
	r = pn_pg_query(c,
			lock ? "SELECT version FROM postern_schema WHERE component = $1 FOR UPDATE"
			     : "SELECT version FROM postern_schema WHERE component = $1",
			1, p, err);
	if (!r)
		return -1;
	if (PQntuples(r) == 1)
		*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int pn_pg_schema_version(PGconn *c, const char *component, int *version, char **err)
{
	return recorded_version(c, component, 0, version, err);
}

static int run_steps(PGconn *c, const char *component, const char *const *steps, int nsteps,
		     int create, int *from, char **err)
{
	char to[16];
	const char *p[] = { component, to };
	PGresult *r;
	int v;

	/* Two hosts running db init or upgrade at once: the second waits,
	 * then finds the work done. */
	if (pn_pg_exec(c, "SELECT pg_advisory_xact_lock(hashtext('postern schema'));"
			  "CREATE TABLE IF NOT EXISTS postern_schema("
			  " component text PRIMARY KEY, version integer NOT NULL,"
			  " updated timestamptz NOT NULL DEFAULT now())", err) < 0)
		return -1;
	if (recorded_version(c, component, 1, &v, err) < 0)
		return -1;
	*from = v;
	if (create && v > 0) {
		*err = pn_asprintf("the %s schema exists already (version %d): use db upgrade",
				   component, v);
		return -1;
	}
	if (!create && v == 0) {
		*err = pn_asprintf("there is no %s schema yet: use db init", component);
		return -1;
	}
	if (v > nsteps) {
		*err = pn_asprintf("the %s schema is version %d, newer than this program's %d",
				   component, v, nsteps);
		return -1;
	}
	for (; v < nsteps; v++)
		if (pn_pg_exec(c, steps[v], err) < 0)
			return -1;
	snprintf(to, sizeof to, "%d", nsteps);
	r = pn_pg_query(c, "INSERT INTO postern_schema(component, version) VALUES ($1, $2)"
			   " ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version,"
			   " updated = now()", 2, p, err);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int pn_pg_migrate(PGconn *c, const char *component, const char *const *steps, int nsteps,
		  int create, int *from, char **err)
{
	char *ignored = NULL;

	if (pn_pg_exec(c, "BEGIN", err) < 0)
		return -1;
	if (run_steps(c, component, steps, nsteps, create, from, err) < 0) {
		pn_pg_exec(c, "ROLLBACK", &ignored);
		pn_free(ignored);
		return -1;
	}
	return pn_pg_exec(c, "COMMIT", err);
}

int pn_pg_require(PGconn *c, const char *component, int version, const char *tool, char **err)
{
	int v;

	if (pn_pg_schema_version(c, component, &v, err) < 0)
		return -1;
	if (v == version)
		return 0;
	if (v == 0)
		*err = pn_asprintf("the database has no %s schema: run `%s db init`", component,
				   tool);
	else if (v < version)
		*err = pn_asprintf("the %s schema is version %d, this program needs %d: run `%s db"
				   " upgrade`", component, v, version, tool);
	else
		*err = pn_asprintf("the %s schema is version %d, newer than this program's %d:"
				   " upgrade Postern", component, v, version);
	return -1;
}

int pn_pg_lock(PGconn *c, const char *name, char **err)
{
	const char *p[] = { name };
	PGresult *r = pn_pg_query(c, "SELECT pg_advisory_lock(hashtext($1))", 1, p, err);

	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int pn_pg_unlock(PGconn *c, const char *name)
{
	const char *p[] = { name };
	char *err = NULL;
	PGresult *r = pn_pg_query(c, "SELECT pg_advisory_unlock(hashtext($1))", 1, p, &err);

	pn_free(err);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}
