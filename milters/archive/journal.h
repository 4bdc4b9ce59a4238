/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	journal - the archive's append-only record of deliveries, per day
 * SYNOPSIS
 *	#include "milters/archive/journal.h"
 *
 *	arc_journal *arc_journal_open(const char *dir, const arc_owner *o,
 *	                              long lock_ms, char **err);
 *	arc_journal *arc_journal_open_host(const char *dir, const char *host,
 *	                                   const arc_owner *o, long lock_ms,
 *	                                   char **err);
 *	int  arc_journal_host_ok(const char *host);
 *	const char *arc_journal_host(const arc_journal *j);
 *	void arc_journal_close(arc_journal *j);
 *	const char *arc_journal_dir(const arc_journal *j);
 *	int  arc_journal_append(arc_journal *j, const arc_record *recs, size_t n,
 *	                        char **err);
 *	char *arc_journal_file_for(long long t);
 *	int  arc_journal_files(const arc_journal *j, char ***names, size_t *n);
 *	void arc_journal_files_free(char **names, size_t n);
 *	int  arc_journal_read(const arc_journal *j, const char *name,
 *	                      long long from, arc_journal_fn fn, void *ctx,
 *	                      arc_journal_pos *end);
 *	int  arc_journal_repair(arc_journal *j, size_t *cut);
 *	int  arc_journal_rewrite(arc_journal *j, const char *name,
 *	                         arc_keep_fn keep, void *ctx, size_t *dropped,
 *	                         char **err);
 * DESCRIPTION
 *	The journal is the archive's truth about deliveries; the SQLite
 *	index is a cache rebuilt from it (postern-archive reindex). It lives
 *	in dir/journal/ as one file per UTC day, YYYY-MM-DD.jsonl, each line
 *	one record as written by arc_record_json() (see record(3)). A
 *	record goes to the file of its own time, so a delivery's file
 *	follows from its time.
 *
 *	Several hosts sharing one archive directory (the PostgreSQL index)
 *	each write their own journal, dir/journal/HOST/, opened with
 *	arc_journal_open_host(), so hosts never contend for a file;
 *	arc_journal_open() is the single-host journal, dir/journal/ (host
 *	""). arc_journal_host() tells which host's journal a handle is.
 *	arc_journal_host_ok() says whether a host name can name that
 *	directory (letters, digits, '.', '-', '_'; not starting with '.'
 *	or '-').
 *
 *	arc_journal_append() writes n records, one line each, with a single
 *	write(2) on a file opened O_APPEND, then fdatasync(2)s it; the day
 *	file's directory entry is synced when the file is new. Threads
 *	appending at once share fdatasyncs (group commit): one that starts
 *	after a thread's write makes that write durable too, so that
 *	thread returns without a sync of its own. Records of
 *	one call must belong to one day (the first record's). A line left
 *	unfinished by a crash is closed with a newline first, so the next
 *	record is never glued to it. Appenders hold a shared flock(2) on the
 *	file; arc_journal_rewrite() holds an exclusive one, so an append
 *	never lands in a file that a rewrite is replacing (an appender that
 *	opened the old file notices the new inode and opens again).
 *
 *	arc_journal_files() lists the day files in date order;
 *	arc_journal_dir() is the directory that holds them.
 *	arc_journal_read() reads complete lines from byte offset from and
 *	calls fn for each, with the parsed record (NULL for a line that is
 *	not a record) and the line; fn returning -1 stops. *end receives the
 *	offset after the last complete line, the file's inode and the count
 *	of lines that were not records.
 *
 *	arc_journal_repair() cuts an unfinished last line (a write that a
 *	crash or SIGKILL interrupted: its delivery was never acknowledged)
 *	from every day file, under the exclusive lock so that no append is
 *	in progress; *cut counts the files it shortened.
 *
 *	arc_journal_rewrite() (prune) replaces a day file by the lines keep()
 *	accepts: a temporary file, fsync, rename, fsync of the directory.
 *	Lines that are not records are kept.
 * DIAGNOSTICS
 *	Functions return 0, or -1 with *err (append, rewrite) or errno set.
 *	A lock that stays taken longer than lock_ms is an error (ETIMEDOUT).
 */
#ifndef ARC_JOURNAL_H
#define ARC_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "milters/archive/files.h"
#include "milters/archive/record.h"

#define ARC_JOURNAL_LINE_MAX ((size_t)64 * 1024 * 1024)

typedef struct arc_journal arc_journal;

typedef struct arc_journal_pos {
	long long offset;
	unsigned long long ino;
	size_t bad;
} arc_journal_pos;

typedef int (*arc_journal_fn)(void *ctx, const arc_record *r, const char *line, size_t len);
typedef int (*arc_keep_fn)(void *ctx, const arc_record *r);

arc_journal *arc_journal_open(const char *dir, const arc_owner *o, long lock_ms, char **err);
arc_journal *arc_journal_open_host(const char *dir, const char *host, const arc_owner *o,
				   long lock_ms, char **err);
int arc_journal_host_ok(const char *host);
const char *arc_journal_host(const arc_journal *j);
void arc_journal_close(arc_journal *j);
const char *arc_journal_dir(const arc_journal *j);
int arc_journal_append(arc_journal *j, const arc_record *recs, size_t n, char **err);
char *arc_journal_file_for(long long t);
int arc_journal_files(const arc_journal *j, char ***names, size_t *n);
void arc_journal_files_free(char **names, size_t n);
int arc_journal_read(const arc_journal *j, const char *name, long long from, arc_journal_fn fn,
		     void *ctx, arc_journal_pos *end);
int arc_journal_repair(arc_journal *j, size_t *cut);
int arc_journal_rewrite(arc_journal *j, const char *name, arc_keep_fn keep, void *ctx,
			size_t *dropped, char **err);

#endif
