/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	store_tools - postern-audit db, ship, and the --database readers
 * SYNOPSIS
 *	#include "milters/audit/store_tools.h"
 *
 *	int audit_tool_db(const pn_config *cfg, void *state, int argc,
 *	                  char **argv);
 *	int audit_tool_ship(const pn_config *cfg, void *state, int argc,
 *	                    char **argv);
 *	PGconn *audit_store_connect(const audit_state *st, const char *conninfo,
 *	                            const char *tool, int *rc);
 * DESCRIPTION
 *	`postern-audit db init|upgrade|status [--connection STR]` creates,
 *	upgrades or shows the audit store's schema (store.h) in
 *	PostgreSQL. init and upgrade run as the owner role (postern_owner),
 *	so --connection names it; without it the configured
 *	store_connection is used. status prints the schema version and,
 *	per host and trail, the records the table holds and the last seq.
 *
 *	`postern-audit ship [--connection STR]` runs one shipping pass of
 *	the configured trail (what the daemon's thread does every second)
 *	and prints what it shipped: for a cron job, for a host whose daemon
 *	is stopped, or to see that everything is there.
 *
 *	audit_store_connect() opens the connection for export and verify
 *	--database (and the tools above): conninfo when not NULL, else
 *	the configured store_connection; on failure it prints why (naming
 *	tool) and sets *rc to the exit code (EX_USAGE without a connection
 *	string, EX_TEMPFAIL when the server cannot be reached).
 * DIAGNOSTICS
 *	db: 0 done (status: the schema is current), 1 (status: missing or
 *	older than this program: run db init or db upgrade), EX_TEMPFAIL
 *	(75) database unreachable, EX_SOFTWARE (70) a migration failed.
 *	ship: 0 everything shipped, 75 database unreachable (or its schema
 *	not current: nothing is lost, run it again later), 65 (EX_DATAERR)
 *	a row in the table differs from the trail's record (logged).
 */
#ifndef AUDIT_STORE_TOOLS_H
#define AUDIT_STORE_TOOLS_H

#include <libpq-fe.h>

#include "common/config.h"
#include "milters/audit/state.h"

int audit_tool_db(const pn_config *cfg, void *state, int argc, char **argv);
int audit_tool_ship(const pn_config *cfg, void *state, int argc, char **argv);
PGconn *audit_store_connect(const audit_state *st, const char *conninfo, const char *tool,
			    int *rc);

#endif
