/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	index - the index of deliveries, SQLite or PostgreSQL: a cache of the journal
 * SYNOPSIS
 *	#include "milters/archive/index.h"
 *
 *	arc_index *arc_index_open(const char *path, int fulltext, long busy_ms,
 *	                          const arc_owner *o, char **err);
 *	arc_index *arc_index_open_pg(const char *conninfo, int fulltext,
 *	                             char **err);
 *	int  arc_index_shared(const arc_index *x);
 *	int  arc_index_unreachable(arc_index *x);
 *	void arc_index_close(arc_index *x);
 *
 *	int arc_index_object(arc_index *x, const char *sha, arc_object *obj);
 *	int arc_index_catch_up(arc_index *x, arc_journal *j, arc_text_fn text,
 *	                       void *ctx, size_t *applied, char **err);
 *	int arc_index_catch_up_with(arc_index *x, arc_journal *j,
 *	                            arc_catch_up *how, size_t *applied, char **err);
 *	int arc_index_reset(arc_index *x, char **err);
 *	int arc_index_set_text(arc_index *x, long long rowid, const char *subject,
 *	                       const char *text);
 *
 *	int arc_index_search(arc_index *x, const arc_query *q, arc_row_fn fn,
 *	                     void *ctx, char **err);
 *	int arc_index_stats(arc_index *x, arc_stats *st);
 *	int arc_index_each_object(arc_index *x, arc_object_fn fn, void *ctx);
 *	int arc_index_expired(arc_index *x, long long before, arc_row_fn fn,
 *	                      void *ctx, char **err);
 *	int arc_index_delete(arc_index *x, char **ids, size_t n, char **err);
 *	long long arc_index_uses(arc_index *x, const char *sha);
 *	int arc_index_delete_object(arc_index *x, const char *sha);
 *	int arc_index_apply(arc_index *x, const arc_record *r, char **err);
 * DESCRIPTION
 *	The index (ARCHIVE/index.db, SQLite in WAL mode) has one row per
 *	delivery in table deliveries (time, queue id, client, envelope,
 *	decoded From/To/Cc/Subject, Message-ID, Date, size, stored size,
 *	attachment names), its envelope recipients in recipients, the
 *	objects in objects, legal holds in holds, the full-text index in
 *	the FTS5 table fulltext (subject and text parts, by delivery row),
 *	and in journal_applied how far each journal file has been applied.
 *	postern-archive.conf(5) lists every column.
 *
 *	The journal, not the index, is the truth: arc_index_catch_up()
 *	applies every journal record the index has not seen yet (from the
 *	offset it reached in each day file; from the start of a file whose
 *	inode changed because prune rewrote it). Applying is idempotent and
 *	does not depend on order: a delivery that exists is left alone, a
 *	voided one is never inserted, and of several hold/release events
 *	for one delivery the latest (by its microsecond time) wins. For a
 *	delivery that catch-up inserts, text(ctx, d) supplies the text for
 *	the full-text index (allocated, freed here; NULL: none); it is not
 *	called for a delivery the index has or that was voided. fulltext
 *	is 0 (no full-text rows), 1 (subject only) or 2 (subject and text).
 *	Records are applied in transactions of up to 2000.
 *
 *	arc_index_catch_up_with() is the same with options (the daemon's
 *	indexer, see indexer(3)): how->files names the day files to look
 *	at (NULL: all), how->text/text_ctx as above, and how->hold, when
 *	set, is asked before each record: 1 leaves that record and the rest
 *	of its file for a later catch-up (how->held counts the files where
 *	that happened).
 *
 *	arc_index_search() calls fn for each delivery the query selects, in
 *	time order, with the delivery (recipients and attachments included)
 *	and its row facts; fn returning -1 stops. arc_index_expired() does
 *	the same for deliveries older than before that no hold covers.
 *	arc_index_uses() counts the deliveries that use an object.
 *	arc_index_apply() applies one record in its own transaction (hold
 *	and release, after the tool journaled them).
 *
 *	arc_index_open_pg() opens the same index in PostgreSQL (libpq
 *	connection string conninfo; see index_pg(3)): every function above
 *	works on it with the same results in the same order, and
 *	arc_index_shared() is 1 for it (hosts share it), 0 for SQLite. It
 *	connects at its first use, not at open, and reconnects whenever
 *	needed, so the daemon starts and takes mail while PostgreSQL is
 *	down: each call fails (-1, *err) until the server is back and holds
 *	the schema of `postern-archive db init`. Catch-up records progress
 *	per journal host (arc_journal_host()) and day file.
 *	arc_index_unreachable() is 1 when the last attempt to reach the
 *	server failed (the tools then exit 75, EX_TEMPFAIL: try again
 *	later), 0 otherwise and always for SQLite.
 *
 *	An arc_index may be used by many threads: every call takes its
 *	mutex. SQLite waits busy_ms for a lock another process holds.
 *	Opened read-only (no write permission), reads work and writes fail.
 * DIAGNOSTICS
 *	Functions return 0, or -1 with *err (SQLite's message) where there
 *	is one. arc_index_object() returns 0 (found), 1 (not found) or -1;
 *	arc_index_uses() returns a count or -1.
 */
#ifndef ARC_INDEX_H
#define ARC_INDEX_H

#include <stddef.h>

#include "milters/archive/files.h"
#include "milters/archive/journal.h"
#include "milters/archive/query.h"
#include "milters/archive/record.h"
#include "milters/archive/store.h"

typedef struct arc_index arc_index;

typedef struct arc_row {
	long long rowid;
	int held;
	int encrypted;
	char *hold_reason;
} arc_row;

typedef int (*arc_row_fn)(void *ctx, const arc_delivery *d, const arc_row *row);
typedef char *(*arc_text_fn)(void *ctx, const arc_delivery *d);
typedef int (*arc_hold_fn)(void *ctx, const arc_record *r);

typedef struct arc_catch_up {
	arc_text_fn text;
	void *text_ctx;
	arc_hold_fn hold;	/* NULL: apply everything */
	void *hold_ctx;
	char **files;		/* day file names, NULL: every one */
	size_t nfiles;
	size_t held;		/* out: files left unfinished by hold */
} arc_catch_up;

typedef struct arc_stats {
	long long deliveries, objects, held, encrypted_objects, recipients;
	long long message_bytes;	/* sum of delivery sizes */
	long long object_bytes;		/* sum of object (message) sizes */
	long long stored_bytes;		/* sum of object file sizes */
	long long oldest, newest;	/* delivery times, 0 when empty */
} arc_stats;

arc_index *arc_index_open(const char *path, int fulltext, long busy_ms, const arc_owner *o,
			  char **err);
arc_index *arc_index_open_pg(const char *conninfo, int fulltext, char **err);
int arc_index_shared(const arc_index *x);
void arc_index_close(arc_index *x);
int arc_index_object(arc_index *x, const char *sha, arc_object *obj);
int arc_index_catch_up(arc_index *x, arc_journal *j, arc_text_fn text, void *ctx,
		       size_t *applied, char **err);
int arc_index_catch_up_with(arc_index *x, arc_journal *j, arc_catch_up *how, size_t *applied,
			    char **err);
int arc_index_reset(arc_index *x, char **err);
int arc_index_set_text(arc_index *x, long long rowid, const char *subject, const char *text);
int arc_index_search(arc_index *x, const arc_query *q, arc_row_fn fn, void *ctx, char **err);
int arc_index_stats(arc_index *x, arc_stats *st);
int arc_index_each_object(arc_index *x, arc_object_fn fn, void *ctx);
int arc_index_expired(arc_index *x, long long before, arc_row_fn fn, void *ctx, char **err);
int arc_index_delete(arc_index *x, char **ids, size_t n, char **err);
long long arc_index_uses(arc_index *x, const char *sha);
int arc_index_delete_object(arc_index *x, const char *sha);
int arc_index_apply(arc_index *x, const arc_record *r, char **err);
int arc_index_unreachable(arc_index *x);

#endif
