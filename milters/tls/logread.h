/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	logread - read Postfix's log from where the last run stopped into the ledger
 * SYNOPSIS
 *	#include "milters/tls/logread.h"
 *
 *	int ptls_logread(ptls_ledger *l, const char *path,
 *	                 const ptls_policy_set *policy, int all_domains,
 *	                 time_t now, ptls_logread_stats *st, char **err);
 * DESCRIPTION
 *	ptls_logread() reads the complete lines of the log file path that
 *	were added since the position the ledger remembers for it (the
 *	whole file the first time), parses them (maillog.h) and adds every
 *	outbound delivery to the ledger, as logtail(8) and pflogsumm users
 *	expect from a job run by cron or a systemd timer. A delivery counts
 *	when its recipient's domain has a line in the policy (the "*" line
 *	included), or for every domain when all_domains is set.
 *
 *	Counts, the new position and the tracker's open sessions are
 *	committed in one transaction every PTLS_LOGREAD_BATCH lines and at
 *	the end: a killed run repeats no count and loses none.
 *
 *	Rotation: when the file is no longer the one (device, inode) read
 *	last, the rest of the old one is read first from "PATH.1" if that is
 *	it (logrotate's and newsyslog's name; a compressed PATH.1 is not
 *	read), then the new file from its start. A file shorter than the
 *	position (copytruncate) is read from its start. A last line without
 *	its newline is left for the next run. A line longer than
 *	PTLS_LOGREAD_LINE_MAX bytes is skipped (no Postfix line is that long).
 * DIAGNOSTICS
 *	-1 with *err (free with pn_free) when the file cannot be opened or
 *	the ledger cannot be written; the ledger then keeps what earlier
 *	batches committed. st counts lines read, deliveries counted, lines
 *	skipped, and says whether rotated lines could not be found.
 */
#ifndef PTLS_LOGREAD_H
#define PTLS_LOGREAD_H

#include <time.h>

#include "milters/tls/ledger.h"
#include "milters/tls/policy.h"

#define PTLS_LOGREAD_BATCH	5000
#define PTLS_LOGREAD_LINE_MAX	(64 * 1024)

typedef struct ptls_logread_stats {
	unsigned long long lines, counted, skipped;
	int rotated, rotated_lost;
} ptls_logread_stats;

int ptls_logread(ptls_ledger *l, const char *path, const ptls_policy_set *policy, int all_domains,
		 time_t now, ptls_logread_stats *st, char **err);

#endif
