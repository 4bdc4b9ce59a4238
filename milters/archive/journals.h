/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	journals - every host's journal in one shared archive directory
 * SYNOPSIS
 *	#include "milters/archive/journals.h"
 *
 *	int arc_journals_each(const char *dir, arc_journal *own,
 *	                      const arc_owner *o, long lock_ms,
 *	                      arc_journals_fn fn, void *ctx, char **err);
 * DESCRIPTION
 *	Several hosts that share one archive directory (index =
 *	postgresql) each append to their own journal, dir/journal/HOST/
 *	(see journal(3)); the maintenance commands of any host (reindex,
 *	prune, verify) must see all of them.
 *
 *	arc_journals_each() calls fn for own first, then, when own is a
 *	host's journal (arc_journal_host(own) not ""), for every other
 *	host's journal directory under dir/journal/ (names that
 *	arc_journal_host_ok() accepts, in name order), and last for the
 *	single-host journal dir/journal/ itself when it holds day files
 *	(an archive that ran with the SQLite index before). A single-host
 *	journal (own's host "") is the only one: fn is called for it alone.
 *	The other journals are opened for the call and closed after it;
 *	o and lock_ms are their owner and lock timeout. fn returning -1
 *	stops the walk.
 * DIAGNOSTICS
 *	0, or -1 when fn returned -1 (its *err, if it set one) or a
 *	journal could not be listed or opened (*err set; caller frees).
 */
#ifndef ARC_JOURNALS_H
#define ARC_JOURNALS_H

#include "milters/archive/files.h"
#include "milters/archive/journal.h"

typedef int (*arc_journals_fn)(void *ctx, arc_journal *j, char **err);

int arc_journals_each(const char *dir, arc_journal *own, const arc_owner *o, long lock_ms,
		      arc_journals_fn fn, void *ctx, char **err);

#endif
