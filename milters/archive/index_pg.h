/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	index_pg - the index of deliveries in PostgreSQL, shared by hosts
 * SYNOPSIS
 *	#include "milters/archive/index_pg.h"
 *
 *	extern const char *const arc_pg_steps[];
 *	extern const int arc_pg_version;
 *
 *	arc_pgindex *arc_pgindex_open(const char *conninfo, int fulltext);
 *	void arc_pgindex_close(arc_pgindex *p);
 *	int  arc_pgindex_unreachable(arc_pgindex *p);
 *	(one arc_pgindex_NAME for each arc_index_NAME of index(3))
 * DESCRIPTION
 *	The PostgreSQL backend of index(3): index.c calls it for a handle
 *	that arc_index_open_pg() made, so callers only ever see arc_index_*.
 *	The tables (archive_deliveries, archive_recipients, archive_objects,
 *	archive_holds, archive_voids, archive_fulltext,
 *	archive_journal_applied) are created by `postern-archive db init`
 *	from arc_pg_steps (arc_pg_version steps, see pg(3)); run-time code
 *	never creates or alters them.
 *
 *	The connection is opened lazily and checked before every call
 *	(pn_pg_alive()): an unreachable server is not an error at open, and
 *	each call fails (-1, *err saying why) while the server is down or
 *	the schema is not the version this program needs; after a failed
 *	connection attempt, calls fail at once for RETRY_SECONDS, so a server
 *	that does not answer delays one call by connect_timeout, not each
 *	one. A role that may
 *	not insert into archive_deliveries (postern_auditor) gets a
 *	read-only handle, as SQLite's for a user without write permission:
 *	searches work, catch-up does nothing, writes fail.
 *
 *	Catch-up records its progress per (journal host, day file), so the
 *	indexers of several hosts feed one database at once, each from its
 *	own journal. A delivery whose id exists already from another host is
 *	not indexed twice: the collision is logged (the journal keeps both).
 *	Every value a user or a journal supplies is a query parameter.
 * DIAGNOSTICS
 *	As index(3); the messages name PostgreSQL and quote libpq's.
 */
#ifndef ARC_INDEX_PG_H
#define ARC_INDEX_PG_H

#include "milters/archive/index.h"

typedef struct arc_pgindex arc_pgindex;

extern const char *const arc_pg_steps[];
extern const int arc_pg_version;

arc_pgindex *arc_pgindex_open(const char *conninfo, int fulltext);
void arc_pgindex_close(arc_pgindex *p);
int arc_pgindex_unreachable(arc_pgindex *p);
int arc_pgindex_object(arc_pgindex *p, const char *sha, arc_object *obj);
int arc_pgindex_catch_up_with(arc_pgindex *p, arc_journal *j, arc_catch_up *how,
			      size_t *applied, char **err);
int arc_pgindex_reset(arc_pgindex *p, char **err);
int arc_pgindex_set_text(arc_pgindex *p, long long rowid, const char *subject, const char *text);
int arc_pgindex_search(arc_pgindex *p, const arc_query *q, arc_row_fn fn, void *ctx, char **err);
int arc_pgindex_stats(arc_pgindex *p, arc_stats *st);
int arc_pgindex_each_object(arc_pgindex *p, arc_object_fn fn, void *ctx);
int arc_pgindex_expired(arc_pgindex *p, long long before, arc_row_fn fn, void *ctx, char **err);
int arc_pgindex_delete(arc_pgindex *p, char **ids, size_t n, char **err);
long long arc_pgindex_uses(arc_pgindex *p, const char *sha);
int arc_pgindex_delete_object(arc_pgindex *p, const char *sha);
int arc_pgindex_apply(arc_pgindex *p, const arc_record *r, char **err);

#endif
