/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	dbtool - postern-archive db: the PostgreSQL index's schema
 * SYNOPSIS
 *	#include "milters/archive/dbtool.h"
 *
 *	int arc_tool_db(const pn_config *cfg, void *state, int argc, char **argv);
 * DESCRIPTION
 *	postern-archive db init|upgrade|status [--connection STR]: the
 *	explicit schema commands of the PostgreSQL index (see index_pg(3)
 *	and pg(3)); run-time programs never create or alter tables.
 *	    init     create the tables (version 1 .. current) and grant
 *	             postern_archive and postern_auditor their rights;
 *	             refused when a schema exists
 *	    upgrade  run the steps from the recorded version to the
 *	             current one (none: nothing to do); refused when there
 *	             is no schema
 *	    status   the recorded and the current version, and the row
 *	             count of every table
 *	The connection is --connection, else the configuration's
 *	index_connection; init and upgrade want the owner role
 *	(postern_owner), status any of the roles.
 * DIAGNOSTICS
 *	Exit codes: 0 done (status: the schema is current); 1 refused (init
 *	on a schema, upgrade without one, a schema newer than this program;
 *	status: not current); 64 usage; 70 an SQL failure; 75 the server
 *	cannot be reached (try again); 77 permission denied (not the
 *	owner role); 78 no connection string.
 */
#ifndef ARC_DBTOOL_H
#define ARC_DBTOOL_H

#include "common/config.h"

int arc_tool_db(const pn_config *cfg, void *state, int argc, char **argv);

#endif
