/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	tail - stream trail records as they are appended, resumable by cursor
 * SYNOPSIS
 *	#include "milters/audit/tail.h"
 *
 *	int audit_cursor_parse(const char *text, size_t len, audit_cursor *c);
 *	int audit_cursor_load(const char *path, audit_cursor *c, int *found,
 *	                      char **err);
 *	int audit_cursor_save(const char *path, const audit_cursor *c,
 *	                      char **err);
 *	int audit_tool_tail(const pn_config *cfg, void *state, int argc,
 *	                    char **argv);
 * DESCRIPTION
 *	`postern-audit tail` feeds a log shipper (Filebeat, Vector, Fluent
 *	Bit) or a pipe: it prints the records of the trail, in one of the
 *	line formats of export (jsonl, ecs, ocsf, cim), first those already
 *	in the rotated files and the current file, then, with --follow,
 *	each record as it is appended. Records are identified by seq: a
 *	record is printed only if its seq is above the last one printed, so
 *	reading a file twice (a rotation seen late) never prints a record
 *	twice.
 *
 *	With --syslog-to TARGET, each event is sent as an RFC 5424 message
 *	(syslog5424.h) instead of printed; the cursor moves past a record
 *	only once its message was sent.
 *
 *	Rotation: tail keeps the file it reads open. When the trail's path
 *	names another file (logrotate moved it, with or without "create"),
 *	tail reads the old file to its end, keeps reading it before the new
 *	one until the new one has given a record (so a record the daemon
 *	was writing during the rename still comes first), and then drops
 *	it. A file that shrank (copytruncate) is read again from its start.
 *	Compressed rotated files are read through reader.h.
 *
 *	The cursor is a small file holding "SEQ:SHA256" (the checkpoint
 *	format): the seq of the last record printed and the SHA-256 of its
 *	line. tail writes it (to FILE.tmp, then rename(2)) after each batch
 *	of records it has flushed to its output, and when it stops on
 *	SIGTERM, SIGINT or SIGHUP, which it handles between records: a
 *	restart with the same cursor then continues with the next record,
 *	exactly once. After a SIGKILL or a crash the last batch may be
 *	printed again (at least once, never lost). On a restart, tail
 *	finds the record the cursor names by its seq and checks its hash:
 *	a different record there means the cursor belongs to another trail,
 *	and tail stops with an error rather than guess. A missing cursor
 *	file starts at the first record of the trail.
 *
 *	audit_cursor_parse() reads the cursor text strictly: 1 to 20
 *	decimal digits without a leading zero (a seq of at least 1 that
 *	fits 64 bits), ":", 64 lower-case hex digits, an optional final
 *	newline, nothing else. audit_cursor_load() reads a cursor file
 *	(at most 128 bytes); *found is 0 when it does not exist.
 *	audit_cursor_save() replaces it atomically.
 * DIAGNOSTICS
 *	audit_cursor_parse() returns 0, or -1 for anything else.
 *	audit_cursor_load() and audit_cursor_save() return 0, or -1 with
 *	*err (pn_free). audit_tool_tail() returns a sysexits code: 0, or
 *	EX_USAGE, EX_NOINPUT, EX_DATAERR (a cursor of another trail, a bad
 *	cursor file), EX_IOERR (output or syslog send failed),
 *	EX_UNAVAILABLE (syslog target cannot be reached).
 */
#ifndef AUDIT_TAIL_H
#define AUDIT_TAIL_H

#include <stddef.h>

#include "common/config.h"

typedef struct audit_cursor {
	unsigned long long seq;
	char hash[65];
} audit_cursor;

int audit_cursor_parse(const char *text, size_t len, audit_cursor *c);
int audit_cursor_load(const char *path, audit_cursor *c, int *found, char **err);
int audit_cursor_save(const char *path, const audit_cursor *c, char **err);
int audit_tool_tail(const pn_config *cfg, void *state, int argc, char **argv);

#endif
