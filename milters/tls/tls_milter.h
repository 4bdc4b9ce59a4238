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
 *	a new snapshot). In addition the connect hook stats the policy file
 *	at most once per policy_check_interval; when its identity (device,
 *	inode, size, modification time) differs from the one loaded, it
 *	asks the worker's reload thread for the same reload SIGHUP causes
 *	(SIGUSR1 to its own process; done only where that signal is blocked,
 *	i.e. in the worker, whose reload thread waits for it). A file that
 *	fails to load is logged and asked for once; the running policy
 *	stays until the file changes again.
 * DIAGNOSTICS
 *	load() fails with a message naming file:line and the attribute for a
 *	bad policy, or the parameter for a bad header name.
 */
#ifndef PTLS_TLS_MILTER_H
#define PTLS_TLS_MILTER_H

#include "common/milter/engine.h"
#include "milters/tls/decide.h"
#include "milters/tls/policy.h"

typedef struct ptls_state {
	ptls_policy_set *policy;
	const char *trace_header;	/* empty: none (points into the config) */
	const char *tag_header;
	long long check_interval;	/* seconds; 0: only SIGHUP */
} ptls_state;

extern const pn_engine ptls_engine;

void ptls_facts_from_conn(const pn_conn *c, ptls_facts *f);

#endif
