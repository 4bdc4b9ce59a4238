/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	store - ship the local trail to the central audit store (PostgreSQL)
 * SYNOPSIS
 *	#include "milters/audit/store.h"
 *
 *	extern const char *const audit_store_steps[];
 *	extern const int audit_store_nsteps;
 *
 *	audit_ship *audit_ship_new(const char *trail_path,
 *	                           const char *head_path,
 *	                           const char *conninfo, size_t batch);
 *	void audit_ship_set_conninfo(audit_ship *sh, const char *conninfo);
 *	int  audit_ship_pass(audit_ship *sh, audit_ship_result *res,
 *	                     char **err);
 *	void audit_ship_free(audit_ship *sh);
 * DESCRIPTION
 *	Several MX hosts keep one audit store: table audit_records in
 *	PostgreSQL (schema "audit", versioned: audit_store_steps[i] takes
 *	version i to i + 1, run by `postern-audit db init|upgrade` through
 *	pn_pg_migrate()). Each host's local hash-chained trail stays the
 *	truth; the table holds a copy of every record line, byte for byte,
 *	keyed by (trail_id, seq), with the host, the line's SHA-256 (hash),
 *	its prev, its ts and event, so that `verify --database` re-checks
 *	the very chain the host wrote and `export --database` reads the
 *	records across hosts (central.h).
 *
 *	audit_ship_pass() copies to the table every record of the trail
 *	at trail_path (its rotated files, oldest first, then the file
 *	itself) that the table does not have yet, in order, at most batch
 *	records per transaction. The trail's identity comes from its head
 *	file (head_path, headfile.h), else from the first trail-start
 *	record in the files; a later trail-start with another trail id
 *	(the trail was started again) switches to that id. Where to start
 *	is asked of the database, never kept locally: the highest seq it
 *	holds for the trail id. Within one ship (the daemon's thread) the
 *	position reached in the current file is remembered, so a pass
 *	reads only what was appended since; a rotation, a shrunk file or a
 *	lost connection makes the next pass read the files again from the
 *	start, skipping what the database has.
 *
 *	Shipping is idempotent: a record already in the table under its
 *	(trail_id, seq) is left alone (INSERT ... ON CONFLICT DO NOTHING,
 *	so the writer role needs INSERT and SELECT only). A row there with
 *	another hash is never overwritten: it is logged at critical level
 *	and counted in res->conflicts (verify --database names it). The
 *	row shipping resumes after (the database's highest seq) is checked
 *	the same way against the trail's record with that seq when the
 *	pass reads it. A line
 *	cut short (being written, or a crash) ends the pass before it; a
 *	line that is not a record is skipped with a warning.
 *
 *	The connection is made (and remade, pn_pg_alive) by the pass and
 *	kept in sh; a failed pass rolls its transaction back and forgets
 *	its position. audit_ship_set_conninfo() takes a new connection
 *	string (a reload) for the next pass.
 * DIAGNOSTICS
 *	audit_ship_pass() returns 0 when everything in the files is in the
 *	table (res says how many records were shipped, which trail and the
 *	last seq), or -1 with *err (pn_free) when the database cannot be
 *	reached or refused (nothing is lost: the next pass resumes), or a
 *	trail file cannot be read.
 */
#ifndef AUDIT_STORE_H
#define AUDIT_STORE_H

#include <stddef.h>

#include "milters/audit/headfile.h"

#define AUDIT_SHIP_BATCH 500

extern const char *const audit_store_steps[];
extern const int audit_store_nsteps;

typedef struct audit_ship audit_ship;

typedef struct audit_ship_result {
	unsigned long long shipped;	/* records inserted by this pass */
	unsigned long long conflicts;	/* rows found different from the trail */
	unsigned long long last_seq;	/* highest seq the table holds for trail_id */
	char trail_id[AUDIT_TRAIL_ID_LEN + 1];	/* "" when the trail has none yet */
} audit_ship_result;

audit_ship *audit_ship_new(const char *trail_path, const char *head_path, const char *conninfo,
			   size_t batch);
void audit_ship_set_conninfo(audit_ship *sh, const char *conninfo);
int audit_ship_pass(audit_ship *sh, audit_ship_result *res, char **err);
void audit_ship_free(audit_ship *sh);

#endif
