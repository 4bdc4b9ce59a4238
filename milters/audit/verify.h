/*
 * NAME
 *	verify - check that trail files are an unbroken, unedited chain
 * SYNOPSIS
 *	#include "milters/audit/verify.h"
 *
 *	int audit_verify(char **files, size_t nfiles, const unsigned char *key,
 *	                 size_t keylen, const audit_head *checkpoint,
 *	                 FILE *out);
 * DESCRIPTION
 *	Reads the files in the order given (oldest first: rotated files,
 *	then the current one; compressed ones too, see reader.h) as one
 *	chain, one line at a time, and stops at the first problem, which
 *	it prints as "FILE:LINE: what": a line that is not a record, a
 *	record whose MAC does not match (when key is given), a record whose
 *	SHA-256 is not the prev of the next one (edited), a gap in seq
 *	(deleted), a seq that repeats or goes back (inserted or reordered;
 *	a gap followed by the missing seq is reported as reordered), a last
 *	line without its newline (cut short).
 *
 *	A hash chain cannot show that records were removed from the end:
 *	what is left is still a valid chain. checkpoint, the "SEQ:HASH" an
 *	administrator saved from `postern-audit checkpoint`, closes that
 *	gap: the record with that seq must be present with that hash.
 *	Without a key, someone who can write the file can also rewrite
 *	every record after an edit; the MAC (key kept away from the files)
 *	or an external checkpoint detects that.
 *
 *	On success it prints one line: the count, the seq range, and the
 *	head as "SEQ:HASH". A chain whose first record has seq > 1 is
 *	fine (older files were not given) and said so.
 * DIAGNOSTICS
 *	Returns 0 when intact, 1 when not (the reason printed), 2 when a
 *	file cannot be read.
 */
#ifndef AUDIT_VERIFY_H
#define AUDIT_VERIFY_H

#include <stddef.h>
#include <stdio.h>

#include "milters/audit/chain.h"

int audit_verify(char **files, size_t nfiles, const unsigned char *key, size_t keylen,
		 const audit_head *checkpoint, FILE *out);

#endif
