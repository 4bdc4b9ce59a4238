/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	maillog - Postfix's own log lines about outbound TLS, as ledger events
 * SYNOPSIS
 *	#include "milters/tls/maillog.h"
 *
 *	int ptls_maillog_parse(const char *line, size_t len, time_t now,
 *	                       ptls_ml_line *out);
 *	void ptls_ml_tracker_init(ptls_ml_tracker *t);
 *	int ptls_ml_track(ptls_ml_tracker *t, const ptls_ml_line *l,
 *	                  ptls_ml_event *ev);
 *	const char *ptls_ml_failure(const char *reason, const char *verify_fail);
 * DESCRIPTION
 *	Postfix's smtp(8) client says how it delivered in two kinds of line,
 *	written by the same process (program "postfix/smtp" or, with a
 *	syslog_name, "NAME/smtp") one after the other:
 *
 *	    ... postfix/smtp[PID]: Verified TLS connection established to
 *	        HOST[ADDR]:PORT: TLSv1.3 with cipher CIPHER (256/256 bits) ...
 *	    ... postfix/smtp[PID]: QUEUEID: to=<RCPT>, relay=HOST[ADDR]:PORT,
 *	        ..., dsn=X.Y.Z, status=sent|deferred|bounced (REASON)
 *
 *	and, when a server certificate fails, "certificate verification
 *	failed for HOST[ADDR]:PORT: WHY" before the delivery line.
 *
 *	ptls_maillog_parse() reads one line (without its newline) in the
 *	classic syslog form ("Mmm dd hh:mm:ss host prog[pid]: text", the
 *	form of Postfix's own maillog_file too; the year is now's, or the
 *	year before when that would lie more than a day after now) or the
 *	RFC 3339 form ("2026-12-05T10:41:32.123+01:00 host prog[pid]: text")
 *	and fills out. It returns the kind (PTLS_ML_*); PTLS_ML_OTHER for any
 *	line that is not one of the three or is malformed. Every field is a
 *	fixed-size array: a line can never make the parser allocate, and a
 *	field that does not fit makes the line PTLS_ML_OTHER.
 *
 *	The tracker remembers, per smtp process, the last TLS session and
 *	certificate failure (PTLS_ML_SESSIONS processes; the oldest is
 *	forgotten first: Postfix's default process limit is 100).
 *	ptls_ml_track() feeds it one parsed line; for a delivery line it
 *	fills ev and returns 1. The delivery used TLS when its relay is the
 *	peer of the process's last TLS line (a later plaintext delivery by
 *	the same process to another host is not credited with it).
 *
 *	ev->result is "delivered", "deferred" or "bounced"; ev->failure is
 *	an RFC 8460 result type when the session failed for a TLS reason
 *	(ptls_ml_failure(): "starttls-not-supported" for "TLS is required,
 *	but was not offered" or refused, "certificate-host-mismatch" for
 *	"Server certificate not verified", "certificate-expired" and
 *	"certificate-not-trusted" for "not trusted", "validation-failure"
 *	for "Cannot start TLS" / a handshake failure), "starttls-not-supported"
 *	for mail delivered in plain text, else "". ev->partner is the
 *	recipient's domain in Postern's normal form (common/domain.h).
 * DIAGNOSTICS
 *	None: what cannot be read is PTLS_ML_OTHER.
 */
#ifndef PTLS_MAILLOG_H
#define PTLS_MAILLOG_H

#include <stddef.h>
#include <time.h>

#define PTLS_ML_OTHER		0
#define PTLS_ML_TLS		1	/* "... TLS connection established to ..." */
#define PTLS_ML_DELIVERY	2	/* "QUEUEID: to=<...>, relay=..., status=..." */
#define PTLS_ML_VERIFY_FAIL	3	/* "certificate verification failed for ..." */

#define PTLS_ML_SESSIONS	256
#define PTLS_ML_HOST_MAX	320	/* HOST[ADDR]:PORT */
#define PTLS_ML_TEXT_MAX	256

typedef struct ptls_ml_line {
	int kind;
	time_t when;
	char program[64];
	long pid;
	char peer[PTLS_ML_HOST_MAX];	/* TLS, VERIFY_FAIL: HOST[ADDR]:PORT; DELIVERY: relay */
	char trust[16];			/* TLS: Anonymous, Untrusted, Trusted, Verified */
	char version[16];
	char cipher[80];
	char queue_id[32];
	char rcpt_domain[256];		/* normalised, "" when none */
	char status[16];		/* sent, deferred, bounced, expired */
	char text[PTLS_ML_TEXT_MAX];	/* DELIVERY: reason; VERIFY_FAIL: why */
} ptls_ml_line;

typedef struct ptls_ml_session {
	char program[64];
	long pid;
	unsigned long seq;		/* 0: free slot */
	char peer[PTLS_ML_HOST_MAX];
	char trust[16], version[16], cipher[80];
	char verify_fail[PTLS_ML_TEXT_MAX];
} ptls_ml_session;

typedef struct ptls_ml_tracker {
	ptls_ml_session s[PTLS_ML_SESSIONS];
	unsigned long seq;
} ptls_ml_tracker;

typedef struct ptls_ml_event {
	char day[11];			/* YYYY-MM-DD, UTC */
	const char *partner;
	const char *result;		/* delivered, deferred, bounced */
	const char *tls;		/* version or "none" */
	const char *cipher;		/* "" without TLS */
	const char *trust;		/* verified, trusted, untrusted, anonymous, none */
	const char *failure;		/* RFC 8460 result type or "" */
	char mx_host[PTLS_ML_HOST_MAX];	/* relay host name, without [ADDR]:PORT */
	const char *detail;		/* Postfix's reason for a failure, else "" */
} ptls_ml_event;

int ptls_maillog_parse(const char *line, size_t len, time_t now, ptls_ml_line *out);
void ptls_ml_tracker_init(ptls_ml_tracker *t);
int ptls_ml_track(ptls_ml_tracker *t, const ptls_ml_line *l, ptls_ml_event *ev);
const char *ptls_ml_failure(const char *reason, const char *verify_fail);
void ptls_ml_day(time_t when, char day[11]);

#endif
