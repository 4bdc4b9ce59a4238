/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	archive - one archive directory: store, journal, index and rules
 * SYNOPSIS
 *	#include "milters/archive/archive.h"
 *
 *	arc_archive *arc_archive_open(const arc_settings *set, char **err);
 *	void arc_archive_close(arc_archive *a);
 *
 *	int arc_archive_message(arc_archive *a, arc_delivery *d, arc_source *src,
 *	                        arc_result *res, char **err);
 *	int arc_archive_outcome(arc_archive *a, const char *id, long long when,
 *	                        int accepted, const char *reason, char **err);
 *	int arc_archive_sync(arc_archive *a, char **err);
 *	char *arc_archive_text(void *a, const arc_delivery *d);
 *	void arc_archive_serve(arc_archive *a);
 *	int arc_archive_maintenance_lock(arc_archive *a);
 *	void arc_archive_maintenance_unlock(arc_archive *a, int fd);
 *	int arc_archive_catch_up_all(arc_archive *a, arc_text_fn text,
 *	                             void *ctx, size_t *applied, char **err);
 *	int arc_archive_each_journal(arc_archive *a, arc_journals_fn fn,
 *	                             void *ctx, char **err);
 * DESCRIPTION
 *	arc_archive_open() opens (creating what is missing) the archive in
 *	set->dir: objects/, journal/, index.db, the lock files, and
 *	loads the recipient certificates and the scope rules. With
 *	encryption, it reads the object name key (set->name_key, by default
 *	DIR/object-name.key: 64 hex digits, mode 0600, refused when group
 *	or others may read it), creating it with random bytes the first
 *	time, so that object names are keyed (see store(3)); it warns when
 *	the full-text index would keep message text next to encrypted
 *	objects. It creates the spool directory for the daemon's large
 *	bodies (see pn_spool_configure()), mode 0700, and names it in
 *	a->spool_dir: set->spool_dir, or DIR/spool with encryption; NULL
 *	(the milter layer's tmp_dir) otherwise. It removes
 *	temporary files left by writers that died, and brings the index
 *	up to date with the journal (a crash between the journal and the
 *	index leaves deliveries only in the journal). When the process
 *	runs as root and creates the directory, it gives it to set->user
 *	(the daemon's user), and every file it creates later to the owner
 *	of the directory, so that tools run as root never leave files the
 *	daemon cannot write.
 *
 *	arc_archive_message() is the write path of one delivery. The
 *	caller fills the envelope in d (time, queue id, client, sender,
 *	recipients, direction); src is the message as received. In order:
 *	hash the message (and read the header fields the journal records,
 *	and the text the full-text index will hold),
 *	store the object if it is new (compress, encrypt, temporary file,
 *	fsync, rename, fsync of the directory), append the delivery to the
 *	journal (fsync, shared by concurrent appenders). Only a return of 0
 *	means the delivery is recorded for good; on -1 the caller answers
 *	with a temporary failure, and nothing was journaled. res tells the
 *	id, the object's SHA-256, whether it was already stored, and its
 *	sizes.
 *
 *	The index is not on that path: it follows the journal (indexer(3)).
 *	With set->indexer_thread (the daemon) a thread started at the first
 *	delivery applies the journal, with the text for the full-text
 *	index read in the hash pass and handed over in memory (up to a
 *	budget; past it, and after a restart, read back from the object);
 *	without it (tools, tests)
 *	arc_archive_message() applies it before it returns. With
 *	set->await_outcome a delivery stays out of the index until
 *	arc_archive_outcome() tells the MTA's answer: accepted, or not, and
 *	then the delivery is voided in the journal (a "void" record with
 *	reason), so neither the index nor a reindex ever shows it; the
 *	object stays (prune deletes it once unused). It returns -1 with
 *	*err when the void could not be journaled. arc_archive_sync()
 *	brings the index up to date with the journal now (deliveries
 *	awaiting their outcome excepted). arc_archive_close() stops the
 *	thread after a last pass.
 *
 *	Writers hold a shared lock on ARCHIVE/lock from the moment they
 *	look for an object until the delivery is journaled; prune deletes
 *	objects under the exclusive lock, after bringing the index up to
 *	date with the journal, so it never removes an object a delivery is
 *	about to use or has just journaled. An object journaled by this
 *	process and not indexed yet counts as known (never journaled
 *	twice). Within one process, two deliveries of the
 *	same new message are serialised, so an object is written once.
 *
 *	Several hosts. With set->index_connection (index = postgresql)
 *	the index is PostgreSQL (arc_index_open_pg(), a->shared set),
 *	shared by every host whose archive directory is this one (objects/
 *	shared, possibly over NFS), and this host journals to
 *	DIR/journal/HOST/ (set->host). The delivery path never waits for
 *	the database: whether an object is stored already is told by the
 *	store itself (the file exists), and its object record is journaled
 *	the first time this host sees it (kept in a small cache of
 *	the objects it journaled; a duplicate record is one row once
 *	applied). The indexer thread feeds the database from this host's
 *	journal; arc_archive_serve() (the serving worker, at start and
 *	after each reload) starts it at once, and its first pass catches
 *	up, so a database that is down delays no start and a restarted
 *	worker indexes what its journal holds without waiting for mail.
 *	Nothing at open touches the database: the tools catch up every
 *	host's journal before they read the index, so that they see every
 *	host's mail (without set->indexer_thread, tests: at open). Two hosts storing the same new message at once both
 *	succeed and the object stays whole (store(3): exclusive create).
 *	arc_archive_catch_up_all() applies every host's journal to the
 *	index (this host's only with SQLite); arc_archive_each_journal()
 *	calls fn for each of them (journals(3)). The maintenance lock
 *	also takes, with PostgreSQL, the advisory lock "postern-archive
 *	maintenance" on a connection of its own, so that maintenance on
 *	two hosts never runs at once (-1 with errno ENOLCK, the reason
 *	logged, when the database cannot be reached);
 *	arc_archive_maintenance_unlock() releases both.
 *
 *	arc_archive_text() (an arc_text_fn) reads an object's text for the
 *	full-text index when the object is not encrypted or a->key is set
 *	(NULL otherwise;
 *	the caller frees it). Maintenance tools
 *	call arc_archive_maintenance_lock() (exclusive lock on
 *	ARCHIVE/maintenance.lock) so that two of them never run at once;
 *	release it with arc_archive_maintenance_unlock().
 * DIAGNOSTICS
 *	Functions return NULL or -1 with *err set (caller frees).
 */
#ifndef ARC_ARCHIVE_H
#define ARC_ARCHIVE_H

#include <pthread.h>
#include <stddef.h>

#include "milters/archive/files.h"
#include "milters/archive/index.h"
#include "milters/archive/indexer.h"
#include "milters/archive/journal.h"
#include "milters/archive/journals.h"
#include "milters/archive/policy.h"
#include "milters/archive/record.h"
#include "milters/archive/seal.h"
#include "milters/archive/store.h"

#define ARC_NAME_KEY_FILE "object-name.key"

typedef struct arc_settings {
	const char *dir;
	const char *user;		/* owner for a directory root creates, or "" */
	int compression_level;
	const char *certificates;	/* PEM files, "" = no encryption */
	const char *name_key;		/* object name key file, "" = DIR/object-name.key */
	const char *spool_dir;		/* large bodies, "" = DIR/spool if sealed, else tmp_dir */
	int fulltext;			/* 0 none, 1 subject, 2 subject + text */
	size_t fulltext_max;
	long busy_ms;
	arc_policy_spec scope;
	const char *retention;
	int catch_up;			/* apply the journal to the index at open */
	int indexer_thread;		/* index in a thread of its own (the daemon) */
	int await_outcome;		/* index a delivery once arc_archive_outcome() says */
	const char *index_connection;	/* PostgreSQL conninfo; NULL or "": SQLite index.db */
	const char *host;		/* this host's journal (with PostgreSQL) */
	char host_buf[256];		/* the system host name when host_name is not set */
} arc_settings;

typedef struct arc_inflight arc_inflight;

typedef struct arc_archive {
	char *dir;
	char *spool_dir;		/* created mode 0700 at open, or NULL */
	arc_owner owner;
	arc_seal *seal;
	arc_store *store;
	arc_journal *journal;
	arc_index *index;
	arc_index *lookup;		/* the write path's reads (object rows) */
	arc_indexer *indexer;
	int indexer_thread, await_outcome;
	int shared;			/* several hosts: PostgreSQL index, journal/HOST/ */
	char *index_connection;		/* its conninfo (the maintenance lock) */
	void *maint_pg;			/* PGconn holding the maintenance lock */
	int maint_unreachable;		/* that lock failed: no server */
	struct arc_seen *seen;		/* objects this host journaled (shared) */
	arc_policy *policy;
	arc_retention retention;
	int fulltext;
	size_t fulltext_max;
	long busy_ms;
	char *lock_path;
	char *maint_lock_path;
	pthread_mutex_t inflight_lock;
	pthread_cond_t inflight_done;
	arc_inflight *inflight;
	const arc_key *key;		/* tools: reads encrypted objects when set */
} arc_archive;

typedef struct arc_result {
	char id[ARC_ID_LEN + 1];
	char sha256[65];
	int dedup;			/* the object was already stored */
	unsigned long long size, stored_size;
} arc_result;

arc_archive *arc_archive_open(const arc_settings *set, char **err);
void arc_archive_close(arc_archive *a);
int arc_archive_message(arc_archive *a, arc_delivery *d, arc_source *src, arc_result *res,
			char **err);
int arc_archive_outcome(arc_archive *a, const char *id, long long when, int accepted,
			const char *reason, char **err);
int arc_archive_sync(arc_archive *a, char **err);
char *arc_archive_text(void *a, const arc_delivery *d);
void arc_archive_serve(arc_archive *a);
int arc_archive_maintenance_lock(arc_archive *a);
void arc_archive_maintenance_unlock(arc_archive *a, int fd);
int arc_archive_catch_up_all(arc_archive *a, arc_text_fn text, void *ctx, size_t *applied,
			     char **err);
int arc_archive_each_journal(arc_archive *a, arc_journals_fn fn, void *ctx, char **err);

#endif
