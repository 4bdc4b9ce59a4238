/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	trail - the process-wide, append-only audit trail and its chain state
 * SYNOPSIS
 *	#include "milters/audit/trail.h"
 *
 *	void audit_trail_opts_init(audit_trail_opts *o);
 *	char *audit_trail_head_path(const char *path, const char *head_file);
char *audit_trail_head_path(const char *path, const char *head_file);
 *	audit_trail *audit_trail_open(const char *path,
 *	                              const audit_trail_opts *o);
 *	audit_trail *audit_trail_get(const char *path, mode_t mode,
 *	                             audit_sync sync, long interval);
 *	void audit_trail_put(audit_trail *t);
 *	int audit_trail_append(audit_trail *t, const char *body, size_t len,
 *	                       pn_buf *line, char **err);
 *	int audit_trail_head(const char *path, audit_head *head, char **where,
 *	                     char **err);
 *	char *audit_trail_newest_rotated(const char *path);
 *	char **audit_trail_files(const char *path);
 * DESCRIPTION
 *	The daemon reloads its configuration on SIGHUP by building a new
 *	snapshot and dropping the old one when its last connection ends;
 *	the trail cannot live in a snapshot, or each reload would start a
 *	second writer with its own idea of seq and prev. So trails live in
 *	a process-wide registry keyed by path. audit_trail_open() returns the
 *	trail for a path, creating it (nothing is opened yet) or taking one
 *	more reference to the existing one; a snapshot holds that reference
 *	and audit_trail_put() drops it. A reload loads the new snapshot
 *	before releasing the old, so the count never reaches zero and the
 *	open file and chain state carry over. Getting an existing trail also
 *	asks it to reopen its file before the next record (SIGHUP is
 *	logrotate's "reopen"), and takes the new sync settings. A path of ""
 *	is a trail without a file (syslog-only output): its chain lives in
 *	memory only.
 *
 *	audit_trail_append() seals body into a line (chain.h), writes it
 *	and a newline with one write(2) to a file opened O_APPEND, under the
 *	trail's mutex and an exclusive flock(2), so records from concurrent
 *	connections, or from another process appending to the same file,
 *	never interleave. line receives the sealed line (for syslog). The
 *	file is opened on the first append (created with mode), and opened
 *	again whenever a reopen was asked for or the path no longer names
 *	the open file (rotated away), so rotation works with or without a
 *	SIGHUP. A write that comes up short is undone with ftruncate(2), so
 *	a failed record never leaves half a line. Durability: sync
 *	AUDIT_SYNC_ALWAYS calls fdatasync() before returning, INTERVAL at
 *	most once per interval seconds (and when the file is closed), NEVER
 *	leaves it to the kernel.
 *
 *	Identity and head. The first record of a new trail is a
 *	"trail-start" record naming the trail: a random trail id, the host
 *	(opts host) and the creation time. Every record binds the one
 *	before (prev), so the chain binds that identity. After each
 *	durable write the trail's head (seq, hash, file size, device and
 *	inode, sealing state) goes to the head file (headfile.h): opts
 *	head_file, else audit_trail_head_path() names DIR/.BASE.head beside
 *	the trail (hidden, so that a glob of the trail's rotations does not
 *	match it; pn_free the result). At start, and
 *	whenever the file's size or identity is not what this process
 *	left, the file must still hold the last record written, where it
 *	was written, and anything after it must continue the chain (another
 *	writer, or a head file that lagged a crash). A new empty file is
 *	a rotation: the chain continues in it. Anything else (a shorter
 *	file, an altered last record, lines that do not chain) is never
 *	adopted: the daemon logs it at critical level, appends a "gap"
 *	record (reason, last_seq, last_hash) whose seq and prev continue
 *	from the last known head, and goes on: seq numbers are never reused
 *	and verify reports the gap. Without a head file (a new trail, or
 *	one written before trail identities), the head is read from the
 *	file (or the newest rotated one) and a trail-start record is
 *	written, with "adopted_seq" when records were there before it.
 *
 *	Sealing (seal.h): with opts key_file, each record carries the
 *	epoch and a mac under that epoch's key. An epoch lasts
 *	opts.epoch_records records or opts.epoch_seconds seconds (0: no
 *	limit); the next key replaces key_file before it seals anything and
 *	the old one is wiped. A reload (audit_trail_open on an existing
 *	trail) reads key_file again: a different key (or none, or a first
 *	one) is announced by a "key-change" record (key_id,
 *	previous_key_id) sealed with the new key. The key file must be
 *	owned by opts.key_uid (-1: any) with no group or other access.
 *
 *	With opts.syslog the trail's own records (trail-start, gap at level
 *	crit, key-change) also go to syslog (facility mail), prefixed
 *	"@cee: " with opts.syslog_cee, as the milter sends the others.
 *
 *	Durability: sync AUDIT_SYNC_ALWAYS (the default) returns only when
 *	the record is on disk, by group commit: the first waiting thread
 *	calls fdatasync(2) for every record written so far, outside the
 *	lock, and all records written while it ran wait for the next one;
 *	so one fdatasync covers a batch. INTERVAL syncs at most once per
 *	interval seconds (and when the file is closed); NEVER leaves it to
 *	the kernel.

 *	audit_trail_head() is the same recovery for the checkpoint command:
 *	the head of the trail at path, and in *where the file it came from.
 *	audit_trail_newest_rotated() names the most recently modified file
 *	beside path called path.N, path-SUFFIX, either optionally followed
 *	by .gz, .xz, .bz2 or .zst (logrotate's plain and dateext names), or
 *	NULL. audit_trail_files() lists all of them, oldest first, then path
 *	itself if it exists: a NULL-terminated vector the caller frees
 *	(each string and the vector, with pn_free).
 * DIAGNOSTICS
 *	audit_trail_append() and audit_trail_head() return 0, or -1 with
 *	*err (pn_free) naming the file and the reason: open, lock or write
 *	failures, or a non-empty file that holds no valid record in its
 *	last megabytes. Warnings (a damaged last line) go to the log.
 */
#ifndef AUDIT_TRAIL_H
#define AUDIT_TRAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "milters/audit/chain.h"
#include "milters/audit/headfile.h"
#include "milters/audit/seal.h"

typedef enum { AUDIT_SYNC_ALWAYS, AUDIT_SYNC_INTERVAL, AUDIT_SYNC_NEVER } audit_sync;

typedef struct audit_trail audit_trail;

typedef struct audit_trail_opts {
	mode_t mode;			/* of a trail file created */
	audit_sync sync;
	long interval;			/* seconds, AUDIT_SYNC_INTERVAL */
	const char *head_file;		/* NULL or "": path + ".head" */
	const char *host;		/* the trail identity's host */
	const char *key_file;		/* NULL or "": records are not sealed */
	long key_uid;			/* owner key_file must have; -1 any */
	unsigned long epoch_records;	/* records per sealing epoch, 0 no limit */
	long epoch_seconds;		/* seconds per sealing epoch, 0 no limit */
	int syslog, syslog_cee;		/* copy the trail's own records to syslog */
} audit_trail_opts;

void audit_trail_opts_init(audit_trail_opts *o);
char *audit_trail_head_path(const char *path, const char *head_file);
audit_trail *audit_trail_open(const char *path, const audit_trail_opts *o);
audit_trail *audit_trail_get(const char *path, mode_t mode, audit_sync sync, long interval);
void audit_trail_put(audit_trail *t);
int audit_trail_append(audit_trail *t, const char *body, size_t len, pn_buf *line, char **err);
int audit_trail_head(const char *path, audit_head *head, char **where, char **err);
char *audit_trail_newest_rotated(const char *path);
char **audit_trail_files(const char *path);

#endif
