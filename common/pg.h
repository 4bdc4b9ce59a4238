/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	pg - PostgreSQL connections and versioned schemas for shared stores
 * SYNOPSIS
 *	#include "common/pg.h"
 *
 *	PGconn *pn_pg_connect(const char *conninfo, char **err);
 *	int  pn_pg_alive(PGconn **c, const char *conninfo, char **err);
 *	int  pn_pg_exec(PGconn *c, const char *sql, char **err);
 *	PGresult *pn_pg_query(PGconn *c, const char *sql, int nparams,
 *	                      const char *const *params, char **err);
 *	int  pn_pg_schema_version(PGconn *c, const char *component,
 *	                          int *version, char **err);
 *	int  pn_pg_migrate(PGconn *c, const char *component,
 *	                   const char *const *steps, int nsteps, int create,
 *	                   int *from, char **err);
 *	int  pn_pg_require(PGconn *c, const char *component, int version,
 *	                   const char *tool, char **err);
 *	int  pn_pg_lock(PGconn *c, const char *name, char **err);
 *	int  pn_pg_unlock(PGconn *c, const char *name);
 * DESCRIPTION
 *	Several MX hosts share one archive index and one audit store in
 *	PostgreSQL (libpq). Each host's local journal and trail stay the
 *	truth; the database is fed from them, so every caller must treat a
 *	failed call as "try again later", never as lost data.
 *
 *	pn_pg_connect() opens a connection from a libpq connection string
 *	("host=/run/postgresql dbname=postern user=postern_archive", or a
 *	postgresql:// URI). Unless conninfo says otherwise, connect_timeout
 *	is PN_PG_CONNECT_TIMEOUT seconds, so an unreachable server never
 *	blocks a caller for long, and application_name is "postern". Over
 *	TCP, keepalives and tcp_user_timeout (PN_PG_TCP_TIMEOUT_MS) end a
 *	connection whose server stopped answering (a host gone, a network
 *	cut) in seconds, instead of the kernel's minutes: a call waiting on
 *	it fails and the caller tries again later.
 *	pn_pg_alive() checks that *c (may be NULL) is usable and reconnects
 *	when it is not (after the server restarted): 0, or -1 with *err.
 *
 *	pn_pg_exec() runs SQL that returns no rows (several statements
 *	allowed). pn_pg_query() runs one statement with text parameters
 *	($1, $2, ...; a NULL param is SQL NULL) and returns its result
 *	(PQclear() it), for statements with or without rows.
 *
 *	Schemas are versioned per component ("archive", "audit") in table
 *	postern_schema(component, version, updated). A component's schema
 *	is a list of steps: steps[i] is the SQL that takes version i to
 *	i + 1. pn_pg_migrate() runs, in one transaction and under an
 *	advisory lock (two hosts upgrading at once wait for each other),
 *	every step from the recorded version to nsteps, and records
 *	nsteps; *from receives the version it found. With create 0 (db
 *	upgrade) a component that has no schema yet is an error; with
 *	create 1 (db init) one that has a schema already is. Run-time
 *	programs never migrate: pn_pg_require() fails, with a message
 *	naming "TOOL db init" or "TOOL db upgrade", unless the recorded
 *	version is exactly version. pn_pg_schema_version() gives the
 *	recorded version (0: none).
 *
 *	pn_pg_lock() takes the session advisory lock named name (hashed),
 *	waiting for it; pn_pg_unlock() releases it. Prune and holds take
 *	"postern-archive maintenance" so that two hosts never prune at once.
 * DIAGNOSTICS
 *	Functions return 0 (or a result, or a connection), or -1 (NULL)
 *	with *err set (caller frees with pn_free()), libpq's message
 *	included.
 */
#ifndef PN_PG_H
#define PN_PG_H

#include <libpq-fe.h>

#define PN_PG_CONNECT_TIMEOUT 5
#define PN_PG_TCP_TIMEOUT_MS "15000"

PGconn *pn_pg_connect(const char *conninfo, char **err);
int pn_pg_alive(PGconn **c, const char *conninfo, char **err);
int pn_pg_exec(PGconn *c, const char *sql, char **err);
PGresult *pn_pg_query(PGconn *c, const char *sql, int nparams, const char *const *params,
		      char **err);
int pn_pg_schema_version(PGconn *c, const char *component, int *version, char **err);
int pn_pg_migrate(PGconn *c, const char *component, const char *const *steps, int nsteps,
		  int create, int *from, char **err);
int pn_pg_require(PGconn *c, const char *component, int version, const char *tool, char **err);
int pn_pg_lock(PGconn *c, const char *name, char **err);
int pn_pg_unlock(PGconn *c, const char *name);

#endif
