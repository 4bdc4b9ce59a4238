/*
 * NAME
 *	trail - the process-wide, append-only audit trail and its chain state
 * SYNOPSIS
 *	#include "milters/audit/trail.h"
 *
 *	audit_trail *audit_trail_get(const char *path, mode_t mode,
 *	                             audit_sync sync, long interval);
 *	void audit_trail_put(audit_trail *t);
 *	int audit_trail_append(audit_trail *t, const char *body, size_t len,
 *	                       const unsigned char *key, size_t keylen,
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
 *	a process-wide registry keyed by path. audit_trail_get() returns the
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
 *	The chain state comes from the file itself: at the first append,
 *	or when the file's size is not what this process last left (another
 *	writer, a truncation), the head is read from the last valid record
 *	in the file; an empty or missing file takes it from the newest
 *	rotated file (audit_trail_newest_rotated), and with none the chain
 *	starts at seq 1. A last line without its newline (a crash while
 *	writing) is ended with one, logged, and left for verify to report;
 *	the chain continues from the last valid record before it.
 *
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

typedef enum { AUDIT_SYNC_ALWAYS, AUDIT_SYNC_INTERVAL, AUDIT_SYNC_NEVER } audit_sync;

typedef struct audit_trail audit_trail;

audit_trail *audit_trail_get(const char *path, mode_t mode, audit_sync sync, long interval);
void audit_trail_put(audit_trail *t);
int audit_trail_append(audit_trail *t, const char *body, size_t len, const unsigned char *key,
		       size_t keylen, pn_buf *line, char **err);
int audit_trail_head(const char *path, audit_head *head, char **where, char **err);
char *audit_trail_newest_rotated(const char *path);
char **audit_trail_files(const char *path);

#endif
