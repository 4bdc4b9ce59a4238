/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	maint - verify, reindex, prune and legal hold
 * SYNOPSIS
 *	#include "milters/archive/maint.h"
 *
 *	int arc_verify(arc_archive *a, FILE *out, arc_verify_report *rep,
 *	               char **err);
 *	int arc_reindex(arc_archive *a, size_t *applied, char **err);
 *	int arc_prune(arc_archive *a, long long now, int dry_run, FILE *out,
 *	              arc_prune_report *rep, char **err);
 *	int arc_hold(arc_archive *a, const arc_query *q, int hold,
 *	             const char *reason, const char *user, long long now_usec,
 *	             size_t *count, char **err);
 * DESCRIPTION
 *	arc_verify() checks the whole archive and writes one line per
 *	problem to out:
 *	    corrupt OBJECT: why        content or stored bytes do not match
 *	                               (rehash of every object; the content
 *	                               of an encrypted object only with a->key)
 *	    missing OBJECT: ...        a delivery's object is not there
 *	    orphaned OBJECT            an object no delivery uses (one
 *	                               whose deliveries were all voided
 *	                               is not reported: prune deletes it)
 *	    not in index ID            journaled delivery the index lacks
 *	    not in journal ID          indexed delivery the journal lacks
 *	    index differs ID           index and journal disagree on it
 *	    damaged journal FILE: N    lines that are not records
 *	A delivery being archived while verify runs has its object before its
 *	journal line and its journal line before its index row, so an object
 *	no delivery uses, or a delivery the index lacks, is checked again
 *	under the archive's exclusive lock (which waits for writers in
 *	flight) before it is reported. The report counts what was checked and found.
 *
 *	arc_reindex() empties the index and applies the whole journal (every
 *	host's) again,
 *	reading full text from the objects (encrypted ones need a->key).
 *
 *	arc_prune() deletes the deliveries older than the retention period
 *	that no hold covers: their lines leave the journal (the day files are
 *	rewritten), their rows leave the index, and objects no delivery uses
 *	any more are deleted, under the archive's exclusive lock so that no
 *	writer is about to reuse them. Objects left unreferenced by a crash
 *	are deleted as well. With dry_run nothing changes; out lists what
 *	would go. Nothing under hold is ever deleted, nor any object a held
 *	delivery uses.
 *
 *	arc_hold() puts the deliveries a query selects under legal hold
 *	(hold 1) or releases them (hold 0), after applying every host's
 *	journal to the index (so that a delivery not indexed yet is
 *	selected too): the event goes to this host's journal first, then
 *	to the index.
 *
 *	Several hosts (a->shared): the journals are every host's (see
 *	journals(3)): verify reads them all, reindex and prune apply them
 *	all, prune removes expired deliveries from each; the maintenance
 *	lock is also the database's (arc_archive_maintenance_lock()). *count is the number of deliveries whose
 *	state changed.
 * DIAGNOSTICS
 *	arc_verify() returns 0 when everything is sound, 1 when it found
 *	problems, -1 when it could not check (*err). The others return 0 or
 *	-1 with *err.
 */
#ifndef ARC_MAINT_H
#define ARC_MAINT_H

#include <stddef.h>
#include <stdio.h>

#include "milters/archive/archive.h"
#include "milters/archive/query.h"

typedef struct arc_verify_report {
	size_t objects, deliveries, journal_files;
	size_t corrupt, missing, orphaned, not_in_index, not_in_journal, index_differs;
	size_t damaged_lines, content_unchecked;
} arc_verify_report;

typedef struct arc_prune_report {
	size_t deliveries, objects;
	unsigned long long stored_bytes;
} arc_prune_report;

int arc_verify(arc_archive *a, FILE *out, arc_verify_report *rep, char **err);
int arc_reindex(arc_archive *a, size_t *applied, char **err);
int arc_prune(arc_archive *a, long long now, int dry_run, FILE *out, arc_prune_report *rep,
	      char **err);
int arc_hold(arc_archive *a, const arc_query *q, int hold, const char *reason, const char *user,
	     long long now_usec, size_t *count, char **err);

#endif
