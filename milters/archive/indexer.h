/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	indexer - feeds the index from the journal, off the delivery path
 * SYNOPSIS
 *	#include "milters/archive/indexer.h"
 *
 *	arc_indexer *arc_indexer_new(arc_index *x, arc_journal *j,
 *	                             arc_text_fn text, void *ctx);
 *	void arc_indexer_free(arc_indexer *ix);
 *	int  arc_indexer_start(arc_indexer *ix, char **err);
 *
 *	void arc_indexer_journaled(arc_indexer *ix, long long when,
 *	                           const arc_object *obj, const char *id,
 *	                           int awaiting, const char *text,
 *	                           int text_needed);
 *	void arc_indexer_settle(arc_indexer *ix, const char *id, int voided);
 *	int  arc_indexer_known(arc_indexer *ix, const char *sha,
 *	                       arc_object *obj);
 *	int  arc_indexer_run(arc_indexer *ix, int all, size_t *applied,
 *	                     char **err);
 *	void arc_indexer_catch_up_later(arc_indexer *ix);
 * DESCRIPTION
 *	The journal is the truth; the index follows it. A delivery is
 *	acknowledged once its object and its journal record are durable;
 *	the indexer applies the journal to the index afterwards, with
 *	arc_index_catch_up_with() (the catch-up that also runs at open),
 *	so a crash at any point loses nothing: what the indexer had not
 *	applied yet is applied by the next catch-up.
 *
 *	arc_indexer_start() starts the indexer thread (once; later calls do
 *	nothing; after a failure, which *err tells once, they return -1 and
 *	the caller indexes with arc_indexer_run()). The thread sleeps until a delivery is journaled or
 *	settled, waits ARC_INDEXER_GATHER_MS more so that one transaction
 *	takes the deliveries of that moment together, then catches up the
 *	day files written since its last pass. A pass that fails (the index
 *	locked by a tool past its timeout, a full disk) is tried again a
 *	second later; nothing is lost meanwhile, search only lags.
 *	arc_indexer_free() stops the thread after one last pass (so a
 *	clean stop leaves the index current) and frees everything.
 *
 *	arc_indexer_journaled() tells that records were journaled at when
 *	(their day file): obj, when not NULL, is an object record (known
 *	from now on to arc_indexer_known(), until the index has it); id is
 *	the delivery's id, or NULL. With awaiting, the MTA's answer to the
 *	delivery is not known yet: the index leaves it (and what follows
 *	it in its day file) alone until
 *	arc_indexer_settle() says the MTA's answer is recorded (voided: a
 *	refusal, journaled as a void before), or ARC_INDEXER_SETTLE_MAX
 *	seconds passed. So a delivery the MTA refused after the archive
 *	stored it is never shown by the index. The deliveries awaiting an
 *	answer are known to every indexer of the process (after a reload,
 *	the new snapshot's archive handle leaves alone what the old one's
 *	connections have not settled), and arc_archive_open() catches up
 *	through arc_indexer_run() for that reason.
 *
 *	text, when not NULL, is the delivery's full text, read while the
 *	message was hashed (cheaper than reading the object back): the
 *	indexer keeps a copy for the delivery (up to ARC_INDEXER_PARK_MAX
 *	bytes of texts waiting, or always with text_needed: an encrypted
 *	object it cannot read back) and uses it instead of text(ctx, d),
 *	which reads the object back.
 *
 *	arc_indexer_known() returns 0 and fills obj when an object record
 *	was journaled by this process but may not be indexed yet, 1 if not.
 *	The write path asks it before the index, so an object journaled a
 *	moment ago is not journaled again.
 *
 *	arc_indexer_run() is one pass in the calling thread: the day files
 *	written since the last pass, or every one with all. Tools and
 *	tests use it to see the index current; without a thread, the write
 *	path calls it after each delivery.
 *
 *	arc_indexer_catch_up_later() makes the next pass (the thread's, or
 *	the next arc_indexer_run()) look at every day file, until one such
 *	pass succeeds: the catch-up at open of a daemon that must not wait
 *	for its index (PostgreSQL, perhaps down). A pass that fails logs
 *	once per outage, and once when the index is current again.
 *
 *	Every function may be called from any thread.
 * DIAGNOSTICS
 *	arc_indexer_start() and arc_indexer_run() return 0, or -1 with *err
 *	set (caller frees).
 */
#ifndef ARC_INDEXER_H
#define ARC_INDEXER_H

#include <stddef.h>

#include "milters/archive/index.h"
#include "milters/archive/journal.h"
#include "milters/archive/record.h"

#define ARC_INDEXER_GATHER_MS 200	/* one pass takes what comes meanwhile */
#define ARC_INDEXER_RETRY_MS 1000	/* after a failed pass */
#define ARC_INDEXER_SETTLE_MAX 30	/* seconds a delivery may wait for its outcome */
#define ARC_INDEXER_PARK_MAX ((size_t)32 * 1024 * 1024)	/* bytes of texts kept waiting */

typedef struct arc_indexer arc_indexer;

arc_indexer *arc_indexer_new(arc_index *x, arc_journal *j, arc_text_fn text, void *ctx);
void arc_indexer_free(arc_indexer *ix);
int arc_indexer_start(arc_indexer *ix, char **err);
void arc_indexer_journaled(arc_indexer *ix, long long when, const arc_object *obj,
			   const char *id, int awaiting, const char *text, int text_needed);
void arc_indexer_settle(arc_indexer *ix, const char *id, int voided);
int arc_indexer_known(arc_indexer *ix, const char *sha, arc_object *obj);
int arc_indexer_run(arc_indexer *ix, int all, size_t *applied, char **err);
void arc_indexer_catch_up_later(arc_indexer *ix);

#endif
