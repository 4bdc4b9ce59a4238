/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	socketmap - the live outbound policy: Postfix's socketmap protocol
 *	answered from the running policy
 * SYNOPSIS
 *	#include "milters/tls/socketmap.h"
 *
 *	void ptls_socketmap_reply(const ptls_socketmap_view *v,
 *	                          const char *request, size_t len, pn_buf *reply);
 *
 *	ptls_socketmap *ptls_socketmap_start(const ptls_socketmap_opts *o,
 *	                                     ptls_socketmap_source source,
 *	                                     char **err);
 *	void ptls_socketmap_stop(ptls_socketmap *m);
 * DESCRIPTION
 *	Postfix's socketmap client (socketmap_table(5)) sends, as netstrings
 *	(common/netstring.h) on one connection that it keeps open, requests
 *	"NAME KEY" and expects one reply each: "OK VALUE", "NOTFOUND ",
 *	"TEMP REASON", "TIMEOUT REASON" or "PERM REASON". With
 *
 *	    smtp_tls_policy_maps = socketmap:unix:postern/tls/policy.sock:postfix
 *
 *	NAME is "postfix" and KEY is what Postfix's smtp(8) looks up in a
 *	policy table: the next-hop domain, then its parents as ".domain"
 *	while the answer is NOTFOUND, or an explicit "[host]:port".
 *
 *	ptls_socketmap_reply() turns one request payload into the reply
 *	payload (appended to reply), from v: the policy, and the MTA-STS
 *	cache (sts.h; NULL when sts_enable = no). The answer for KEY is the value of
 *	the table line postern-tls postfix-map writes for exactly that key
 *	(postfix_map.h: same line, same attributes), so a socketmap and an
 *	exported, postmapped file always tell Postfix the same thing, and
 *	Postfix walks the parent domains itself as it does in a file. KEY
 *	is normalised first (common/domain.h: case, one trailing dot, a
 *	U-label becomes its A-label); a key that is no domain name
 *	("[192.0.2.1]:25", a path) is NOTFOUND. The "*" line is not
 *	answered (a table has no key for it; main.cf's
 *	smtp_tls_security_level is the default, as with the file). Other
 *	map names and malformed requests get PERM with the reason (Postfix
 *	logs it and defers the mail); the reason never echoes the request.
 *	v == NULL (no policy loaded) answers TEMP: Postfix defers rather
 *	than fall back to its default level.
 *
 *	MTA-STS: for a domain KEY (not ".parent") whose matching policy
 *	line (ptls_policy_lookup: exact, ".parent", "*") says outbound=sts,
 *	or, with v->sts_all_domains, that no line matches or only a "*"
 *	line without an outbound rule, the answer is the partner's published
 *	policy: ptls_sts_answer() (bounded by sts_lookup_timeout; enforce
 *	gives "OK secure match=...", testing, none or no policy give
 *	NOTFOUND), logged with its reason. Any other matching line is a
 *	static rule and always wins, even over sts_all_domains. With MTA-STS
 *	off an outbound=sts line is NOTFOUND (logged).
 *
 *	ptls_socketmap_start() listens on the unix socket o->path (a stale
 *	socket there is removed; any other file there is an error) with mode
 *	o->mode, in a thread of the calling process. Each connection is
 *	served by its own thread, at most o->max_connections at once (one
 *	more is accepted and closed at once, logged, so Postfix retries
 *	instead of waiting in the backlog); a request may be at most
 *	o->max_request bytes and must arrive whole within o->timeout_ms of
 *	its first byte, the reply must leave within the same bound; an idle
 *	connection is closed after o->idle_ms. A hostile or broken frame
 *	closes its connection and is logged; nothing else is affected.
 *	For every request, source() is called for the policy to answer
 *	from and release() afterwards: the daemon passes the current
 *	snapshot of the tls engine (taking a reference, and reloading first
 *	when the policy file changed, as a new milter connection does), so
 *	a policy edit is answered from the next lookup on without postmap.
 *
 *	ptls_socketmap_stop() stops accepting, closes the socket, removes it
 *	and waits (bounded) for the connection threads to end.
 * DIAGNOSTICS
 *	ptls_socketmap_start() returns NULL with *err (pn_free) naming the
 *	path and the system error. Runtime problems are logged (pn_log).
 */
#ifndef PTLS_SOCKETMAP_H
#define PTLS_SOCKETMAP_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "milters/tls/policy.h"

/* The map name of the main.cf line (socketmap:unix:PATH:postfix). */
#define PTLS_SOCKETMAP_NAME "postfix"

/* Largest request we read: "postfix " and a domain name (255 bytes, or
 * four times that as UTF-8) fit many times over. */
#define PTLS_SOCKETMAP_REQUEST_MAX 4096

typedef struct ptls_socketmap ptls_socketmap;

struct ptls_sts;

/* what one request is answered from */
typedef struct ptls_socketmap_view {
	const ptls_policy_set *policy;
	struct ptls_sts *sts;		/* NULL: MTA-STS off */
	int sts_all_domains;
} ptls_socketmap_view;

/* source: fills the view for one request and a handle for release;
 * returns -1 when there is no policy now (answered TEMP) */
typedef struct ptls_socketmap_source {
	int (*acquire)(ptls_socketmap_view *v, void **handle);
	void (*release)(void *handle);
} ptls_socketmap_source;

typedef struct ptls_socketmap_opts {
	const char *path;		/* unix socket */
	mode_t mode;			/* its permissions */
	unsigned max_connections;
	size_t max_request;		/* payload bytes */
	long long timeout_ms;		/* one request in, its reply out */
	long long idle_ms;		/* an idle connection is closed */
} ptls_socketmap_opts;

void ptls_socketmap_reply(const ptls_socketmap_view *v, const char *request, size_t len,
			  pn_buf *reply);
ptls_socketmap *ptls_socketmap_start(const ptls_socketmap_opts *o, ptls_socketmap_source source,
				     char **err);
void ptls_socketmap_stop(ptls_socketmap *m);

#endif
