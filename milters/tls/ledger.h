/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	ledger - counts of TLS sessions per partner domain, direction and day
 * SYNOPSIS
 *	#include "milters/tls/ledger.h"
 *
 *	ptls_ledger *ptls_ledger_open(const char *path, int readonly,
 *	                              long busy_ms, char **err);
 *	void ptls_ledger_close(ptls_ledger *l);
 *
 *	int ptls_ledger_add(ptls_ledger *l, const ptls_ledger_row *r, char **err);
 *	int ptls_ledger_begin(ptls_ledger *l, char **err);
 *	int ptls_ledger_commit(ptls_ledger *l, char **err);
 *	void ptls_ledger_rollback(ptls_ledger *l);
 *
 *	int ptls_ledger_log_get(ptls_ledger *l, const char *path,
 *	                        ptls_ledger_pos *pos);
 *	int ptls_ledger_log_set(ptls_ledger *l, const char *path,
 *	                        const ptls_ledger_pos *pos, char **err);
 *	int ptls_ledger_sessions_save(ptls_ledger *l, const ptls_ml_tracker *t,
 *	                              char **err);
 *	void ptls_ledger_sessions_load(ptls_ledger *l, ptls_ml_tracker *t);
 *
 *	int ptls_ledger_query(ptls_ledger *l, const char *since,
 *	                      const char *until, const char *partner,
 *	                      int (*each)(void *arg, const ptls_ledger_row *r),
 *	                      void *arg, char **err);
 *	int ptls_ledger_first_day(ptls_ledger *l, const char *partner,
 *	                          char day[11]);
 * DESCRIPTION
 *	The ledger is one SQLite database (a library already linked, with
 *	the locking and crash safety two writing processes need): the
 *	milter adds its inbound decisions, `postern-tls ledger` the outbound
 *	deliveries it reads in Postfix's log. A row counts n sessions with
 *	the same day (UTC, YYYY-MM-DD), partner domain, direction
 *	("inbound" or "outbound"), result (inbound: compliant, violated,
 *	refused; outbound: delivered, deferred, bounced), TLS version
 *	("none" in plain text), cipher, trust (verified, trusted,
 *	untrusted, anonymous, unverified, none), failure (an RFC 8460 result
 *	type or ""), MX host and detail (the failure's reason, cut to
 *	PTLS_LEDGER_DETAIL_MAX bytes). ptls_ledger_add() adds r->n with one
 *	"INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n": two
 *	writers never lose each other's counts, whatever the interleaving
 *	(the database lock serialises them; a writer waits at most busy_ms
 *	for it).
 *
 *	The log reader keeps, in the same database and the same transaction
 *	as the counts, where it stopped in each log file (device, inode,
 *	offset) and the smtp processes' TLS sessions it has seen but whose
 *	deliveries it has not (maillog.h): a crash or a kill between two
 *	runs neither counts a line twice nor loses one.
 *
 *	ptls_ledger_query() calls each() for every row summed over days in
 *	[since, until] (either may be NULL: unbounded), for one partner or
 *	all (NULL), ordered by partner, direction, result. A non-zero return
 *	from each() stops the query and is returned.
 *
 *	ptls_ledger_first_day() gives the earliest day counted (for one
 *	partner or all); 0 when the ledger is empty.
 *
 *	A handle is used by one thread at a time; the milter keeps one
 *	behind a lock.
 * DIAGNOSTICS
 *	Functions that can fail return -1 and set *err (free with pn_free)
 *	to a message naming the database file and SQLite's reason.
 */
#ifndef PTLS_LEDGER_H
#define PTLS_LEDGER_H

#include "milters/tls/maillog.h"

#define PTLS_LEDGER_DETAIL_MAX 160

typedef struct ptls_ledger ptls_ledger;

typedef struct ptls_ledger_row {
	const char *day;	/* NULL in query results (summed over days) */
	const char *partner, *direction, *result, *tls, *cipher, *trust, *failure, *mx_host,
		   *detail;
	long long n;
} ptls_ledger_row;

typedef struct ptls_ledger_pos {
	long long dev, ino, offset;
} ptls_ledger_pos;

ptls_ledger *ptls_ledger_open(const char *path, int readonly, long busy_ms, char **err);
void ptls_ledger_close(ptls_ledger *l);
int ptls_ledger_add(ptls_ledger *l, const ptls_ledger_row *r, char **err);
int ptls_ledger_begin(ptls_ledger *l, char **err);
int ptls_ledger_commit(ptls_ledger *l, char **err);
void ptls_ledger_rollback(ptls_ledger *l);
int ptls_ledger_log_get(ptls_ledger *l, const char *path, ptls_ledger_pos *pos);
int ptls_ledger_log_set(ptls_ledger *l, const char *path, const ptls_ledger_pos *pos, char **err);
int ptls_ledger_sessions_save(ptls_ledger *l, const ptls_ml_tracker *t, char **err);
void ptls_ledger_sessions_load(ptls_ledger *l, ptls_ml_tracker *t);
int ptls_ledger_query(ptls_ledger *l, const char *since, const char *until, const char *partner,
		      int (*each)(void *arg, const ptls_ledger_row *r), void *arg, char **err);
int ptls_ledger_first_day(ptls_ledger *l, const char *partner, char day[11]);

#endif
