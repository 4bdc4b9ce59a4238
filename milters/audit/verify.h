/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	verify - check that trail files are an unbroken, unedited chain
 * SYNOPSIS
 *	#include "milters/audit/verify.h"
 *
 *	typedef struct audit_verifier audit_verifier;

int audit_verify_ex(char **files, size_t nfiles,
 *	                    const audit_verify_opts *o, FILE *out);
 *	int audit_verify(char **files, size_t nfiles, const unsigned char *key,
 *	                 size_t keylen, const audit_head *checkpoint,
 *	                 FILE *out);
 *
 *	audit_verifier *audit_verifier_new(const audit_verify_opts *o,
 *	                                   const char *sep, FILE *out);
 *	int audit_verifier_line(audit_verifier *v, const char *line,
 *	                        size_t len, int complete, const char *where,
 *	                        unsigned long n);
 *	int audit_verifier_done(const audit_verifier *v);
 *	int audit_verifier_finish(audit_verifier *v);
void audit_verifier_abandon(audit_verifier *v);
 *	void audit_verifier_abandon(audit_verifier *v);
 * DESCRIPTION
 *	Reads the files in the order given (oldest first: rotated files,
 *	then the current one; compressed ones too, see reader.h) as one
 *	chain, one line at a time, and stops at the first problem, which
 *	it prints as "FILE:LINE: what":
 *	  - a line that is not a record, or cut short (no newline);
 *	  - a first record that is not the trail-start with seq 1 (the
 *	    oldest records were deleted);
 *	  - a record whose prev is not the SHA-256 of the one before (edited,
 *	    or another trail spliced in), a gap in seq (deleted), a seq that
 *	    repeats or goes back (inserted or reordered; a gap followed by
 *	    the missing seq is reported as reordered);
 *	  - a second trail-start (spliced, or adopted without a head file),
 *	    a trail id other than o->trail_id (the head file's: the trail was
 *	    replaced by another one), a trail-start host other than o->host;
 *	  - a gap record: the daemon found the trail altered and says so;
 *	  - sealing: from a trail-start or key-change that names a key id,
 *	    every record must carry a mac and an epoch; epochs never go back
 *	    and advance one at a time; the mac must match the key of that
 *	    epoch, derived forward from the key in o->keys with that id
 *	    (seal.h). So a record older than the current epoch forged with
 *	    the current key is found (wrong mac, or an epoch out of order).
 *	    Records before the first key are unsigned and covered by the
 *	    signed key-change record that chains them.
 *	o->after (SEQ:HASH of a record verified before, e.g. from a
 *	checkpoint kept when older files expired; 0:000... for a trail
 *	written before trail identities) replaces the trail-start: the
 *	first record must be seq+1 with that prev.
 *	o->checkpoint (SEQ:HASH from `postern-audit checkpoint` or the
 *	head file) closes the one gap a chain cannot show, a cut tail: the
 *	record with that seq must be present with that hash.
 *
 *	o->upto (not 0) verifies the chain only up to the record with that
 *	seq (`postern-audit why`: does the trail verify up to this
 *	message?): nothing after it is read, and a checkpoint beyond it is
 *	not looked for.
 *
 *	On success it prints one line: "intact" (macs were checked) or
 *	"chain intact" with "NO mac checked", the count, the seq range, the
 *	trail, how many macs were checked, and the head as "SEQ:HASH".
 *	Sealed records that no given key covers fail verification unless
 *	o->no_key asks for the hash chain only; keys given while no mac was
 *	checked fail too. audit_verify() is the one-key form (key NULL:
 *	no_key).
 *
 *	The same checks for lines that come from elsewhere (the central
 *	store, store.h): audit_verifier_new() starts a chain,
 *	audit_verifier_line() takes its next line (complete 0: it had no
 *	newline) with the place problems are reported at, printed as
 *	WHERE SEP N ("FILE" ":" LINE for files, "host H trail T" " seq " SEQ
 *	for the database), and returns 1 once the chain is broken (later
 *	lines are ignored); audit_verifier_done() says no more lines are
 *	wanted; audit_verifier_finish() prints the verdict as above and
 *	frees v; audit_verifier_abandon() frees it without one (the
 *	caller found the chain broken on its own).
 * DIAGNOSTICS
 *	Returns 0 when intact, 1 when not (the reason printed), 2 when a
 *	file cannot be read. audit_verifier_finish() returns 0 or 1.
 */
#ifndef AUDIT_VERIFY_H
#define AUDIT_VERIFY_H

#include <stddef.h>
#include <stdio.h>

#include "milters/audit/chain.h"
#include "milters/audit/seal.h"

typedef struct audit_verify_opts {
	const audit_seal *keys;		/* initial (or evolved) keys, any order */
	size_t nkeys;
	int no_key;			/* hash chain only */
	const audit_head *checkpoint;	/* NULL: none */
	const audit_head *after;	/* first record must follow it; NULL: trail-start */
	const char *trail_id;		/* expected trail id, NULL: any */
	const char *host;		/* expected trail-start host, NULL: any */
	unsigned long long upto;	/* stop after this seq (0: read everything) */
} audit_verify_opts;

typedef struct audit_verifier audit_verifier;

int audit_verify_ex(char **files, size_t nfiles, const audit_verify_opts *o, FILE *out);
int audit_verify(char **files, size_t nfiles, const unsigned char *key, size_t keylen,
		 const audit_head *checkpoint, FILE *out);
audit_verifier *audit_verifier_new(const audit_verify_opts *o, const char *sep, FILE *out);
int audit_verifier_line(audit_verifier *v, const char *line, size_t len, int complete,
			const char *where, unsigned long n);
int audit_verifier_done(const audit_verifier *v);
int audit_verifier_finish(audit_verifier *v);
void audit_verifier_abandon(audit_verifier *v);

#endif
