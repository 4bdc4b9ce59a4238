/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	reader - read trail files line by line, plain or compressed
 * SYNOPSIS
 *	#include "milters/audit/reader.h"
 *
 *	audit_reader *audit_reader_open(const char *path, char **err);
 *	int audit_reader_line(audit_reader *r, const char **line, size_t *len,
 *	                      int *complete);
 *	unsigned long audit_reader_lineno(const audit_reader *r);
 *	const char *audit_reader_path(const audit_reader *r);
 *	int audit_reader_close(audit_reader *r, char **err);
 * DESCRIPTION
 *	Rotated trail files are often compressed by logrotate. The reader
 *	looks at a file's first bytes, not its name: gzip, xz, bzip2 and
 *	zstd files are decompressed by the matching command (gzip -dc ...)
 *	running in a child process that reads the already opened file on
 *	its standard input, so a file name never reaches a shell. Anything
 *	else is read as it is. "-" is standard input (never decompressed).
 *
 *	audit_reader_line() returns the next line without its newline; the
 *	pointer stays valid until the next call. *complete is 0 for a last
 *	line that had no newline (a record cut short). Memory use is one
 *	line plus a fixed buffer, whatever the size of the file; a line
 *	longer than AUDIT_LINE_MAX is an error.
 * DIAGNOSTICS
 *	audit_reader_open() returns NULL with *err. audit_reader_line()
 *	returns 1 for a line, 0 at the end, -1 on a read error or an
 *	over-long line. audit_reader_close() returns 0, or -1 with *err when
 *	the decompressor failed (a damaged or truncated compressed file).
 */
#ifndef AUDIT_READER_H
#define AUDIT_READER_H

#include <stddef.h>

#define AUDIT_LINE_MAX ((size_t)64 * 1024 * 1024)

typedef struct audit_reader audit_reader;

audit_reader *audit_reader_open(const char *path, char **err);
int audit_reader_line(audit_reader *r, const char **line, size_t *len, int *complete);
unsigned long audit_reader_lineno(const audit_reader *r);
const char *audit_reader_path(const audit_reader *r);
int audit_reader_close(audit_reader *r, char **err);

#endif
