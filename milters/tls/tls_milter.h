/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	tls_milter - postern-tls as an engine of the shared milter layer
 * SYNOPSIS
 *	#include "milters/tls/tls_milter.h"
 *
 *	extern const pn_engine ptls_engine;
 *
 *	void ptls_facts_from_conn(const pn_conn *c, ptls_facts *f);
 * DESCRIPTION
 *	The glue between libmilter's view of a session (common/milter/) and
 *	the decision engine (decide.h): the parameter table, load() that
 *	reads and validates the policy file into an immutable ptls_state,
 *	and hooks that run the engine at MAIL FROM (sender's domain), at
 *	each RCPT TO (recipient's domain) and at end of message (hold,
 *	tag and trace header). Only CONNECT, HELO, MAIL, RCPT and EOM are
 *	negotiated; no header or body ever reaches this daemon.
 *
 *	ptls_facts_from_conn() reads the TLS macros a connection collected
 *	({tls_version}, {cipher}, {cipher_bits}, {cert_subject},
 *	{cert_issuer}, {verify}) and the client address.
 *
 *	Policy reload: SIGHUP reloads everything (the shared layer builds
 *	a new snapshot). In addition the engine names the policy file and
 *	the version it read to the milter layer (.watch_files, unless
 *	policy_check_interval is 0), which watches it as engine.h describes:
 *	every new connection, before it decides anything, stats the file;
 *	when its identity (device, inode, size, modification time) differs
 *	from the one the snapshot loaded, that connection reloads the daemon
 *	(configuration and policy, as SIGHUP would) and decides with the new
 *	snapshot; connections that see the same change wait for that one
 *	reload. A file that fails to load is logged and read once; the
 *	running policy stays until the file changes again.

 *	The live outbound policy: when policy_socketmap names a unix
 *	socket, the engine's serve() hook (run in the serving worker only,
 *	never by the tools) starts the socketmap server (socketmap.h) once;
 *	every request answers from the tls engine's state in the current
 *	snapshot (pn_snapshot_acquire_watched(): a changed policy file is
 *	reloaded first, as for a new milter connection; in postern-suite
 *	the tls member's state). A changed policy_socketmap path is logged
 *	and takes effect after a restart, as the milter socket does.
 *
 *	Ledger: with ledger_file set, every decision at MAIL on a sender
 *	domain that a policy line covers (every domain with ledger_partners
 *	= all) adds one inbound count to the ledger (ledger.h): compliant,
 *	violated (accepted: hold, tag, log), refused (reject, tempfail) or,
 *	without a policy, accepted; with the session's TLS version, cipher
 *	and whether the client certificate was verified.
 *
 *	MAIL and RCPT decide on the canonical envelope address of the shared
 *	context (m->sender_canon, r->canon: the MTA's {mail_addr} and
 *	{rcpt_addr} when sent, else the parsed path), see decide.h.
 * DIAGNOSTICS
 *	load() fails with a message naming file:line and the attribute for a
 *	bad policy, or the parameter for a bad header name.
 */
#ifndef PTLS_TLS_MILTER_H
#define PTLS_TLS_MILTER_H

#include <pthread.h>

#include "common/milter/engine.h"
#include "milters/tls/decide.h"
#include "milters/tls/ledger.h"
#include "milters/tls/policy.h"

typedef struct ptls_state {
	ptls_policy_set *policy;
	const char *trace_header;	/* empty: none (points into the config) */
	const char *tag_header;
	long long check_interval;	/* 0: only SIGHUP; else stat at each connection */
	const char *socketmap;		/* policy_socketmap path ("" off; into the config) */
	mode_t socketmap_mode;
	unsigned socketmap_max_connections;
	long long socketmap_timeout_ms;
	long long socketmap_idle_ms;
	struct ptls_sts *sts;		/* MTA-STS (sts.h), NULL when sts_enable = no */
	int sts_all_domains;		/* MTA-STS also for domains without a policy line */
	const char *ledger_file;	/* empty: no ledger (points into the config) */
	int ledger_all;			/* ledger_partners = all */
	const char *report_organization, *report_contact;
	/* the milter's ledger handle, opened at first count, behind the lock */
	pthread_mutex_t ledger_lock;
	ptls_ledger *ledger;
	unsigned long ledger_errors;
} ptls_state;

extern const pn_engine ptls_engine;

void ptls_facts_from_conn(const pn_conn *c, ptls_facts *f);

#endif
