/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	central - export and verify the records of the central audit store
 * SYNOPSIS
 *	#include "milters/audit/central.h"
 *
 *	int audit_central_export(PGconn *c, audit_export *x,
 *	                         const audit_filter *f, char **err);
 *	int audit_central_verify(PGconn *c, const audit_verify_opts *o,
 *	                         FILE *out, char **err);
 * DESCRIPTION
 *	The central store (store.h) holds every host's record lines as they
 *	were written. These functions read them back through the very code
 *	that reads trail files, so a record exported or verified from the
 *	database is judged exactly as it would be from its host's files.
 *	Rows are read through a cursor, AUDIT_CENTRAL_FETCH at a time, so
 *	memory stays bounded whatever the size of the table.
 *
 *	audit_central_export() gives audit_export_line() (export.h) every
 *	record of every host, ordered by ts, then host, then seq. f's time
 *	bounds narrow the query (with a margin; the filter itself decides).
 *
 *	audit_central_verify() checks each trail in the table on its own:
 *	for every (host, trail_id), ordered by host then trail id, its rows
 *	in seq order go through one verifier (verify.h) with o (keys,
 *	no_key) and the host column as the expected trail-start host.
 *	Problems are printed as "host H trail T seq N: what"; each trail
 *	that verifies prints its summary line after "host H trail T: ". A
 *	row whose seq or hash column disagrees with its record text is
 *	reported as edited too.
 * DIAGNOSTICS
 *	audit_central_export() returns 0, or -1 with *err (pn_free) when
 *	the query failed. audit_central_verify() returns 0 when every trail
 *	is intact (or there is none), 1 when one is not, -1 with *err when
 *	the query failed.
 */
#ifndef AUDIT_CENTRAL_H
#define AUDIT_CENTRAL_H

#include <libpq-fe.h>
#include <stdio.h>

#include "milters/audit/export.h"
#include "milters/audit/verify.h"

#define AUDIT_CENTRAL_FETCH 1000

int audit_central_export(PGconn *c, audit_export *x, const audit_filter *f, char **err);
int audit_central_verify(PGconn *c, const audit_verify_opts *o, FILE *out, char **err);

#endif
