/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	record - build the JSON audit record of a message or a connection
 * SYNOPSIS
 *	#include "milters/audit/record.h"
 *
 *	char *audit_record_build(const audit_state *st, pn_conn *c, pn_msg *m,
 *	                         audit_event ev, const audit_env *env,
 *	                         size_t *len, char **err);
 *	char *audit_pseudonym(const audit_state *st, const char *address);
 *	const char *audit_event_name(audit_event ev);
 * DESCRIPTION
 *	audit_record_build() turns what the milter layer collected about a
 *	connection c and its message m (NULL for a connection record) into
 *	the body of one record: a JSON object on one line, without the
 *	chain members (schema, seq, prev, mac) that chain.h adds when the
 *	record is appended. Members, in this order, each left out when there
 *	is nothing to say (audit-record.schema.json is the reference):
 *
 *	    ts, host, event, queue_id, duration_ms,
 *	    client {ip, port, name, helo, geo {country, asn, as_org}},
 *	    tls {version, cipher, bits, cert_subject, cert_issuer, verified},
 *	    auth {type, user, author},
 *	    envelope {from, rcpt[], size, body, smtputf8},
 *	    headers {message_id, date, from[], to[], cc[], reply_to[],
 *	             subject, in_reply_to, list_id, duplicates{}, unparsed{},
 *	             truncated, extra{}},
 *	    size, sha256, attachments[{filename, content_type, size, sha256}],
 *	    attachments_truncated,
 *	    mime {count, parts[{index, depth, content_type, disposition,
 *	          encoding, raw_size, size, container}], truncated},
 *	    privacy {redacted[], pseudonymized}
 *
 *	Every string is valid UTF-8 whatever the mail held: header text is
 *	unfolded and its RFC 2047 encoded-words decoded (rfc2047.h); any
 *	byte sequence that is not UTF-8, and any NUL, becomes U+FFFD; JSON
 *	escapes control characters. Address headers are parsed (addr.h) into
 *	lists of {addr, name, group}; all occurrences of an address header
 *	are merged, while for other headers the first occurrence is the
 *	value and the later ones are listed under duplicates. size and
 *	sha256 describe the message as the milter received it: the header
 *	block rebuilt by pn_msg_write_headers() followed by the body.
 *	Attachments come from the MIME walk (mime.h): every part that is an
 *	attachment, with its decoded filename. mime is the tree of the same
 *	walk: every part it listed (leaves and message/rfc822 parts, which
 *	have container set; multipart containers are implied by depth), in
 *	document order, index counting from 0, raw_size the bytes as sent
 *	and size once decoded. At most MAX_RECORD_PARTS (100) parts are
 *	described; count says how many the walk listed (at most 1000) and
 *	truncated that the list or the walk was cut.
 *
 *	env injects what would make output unrepeatable: the time of the
 *	event (ts and duration_ms are taken from it), and, when not NULL,
 *	the host and the queue id. Without them the host is host_name, else
 *	the MTA's {j} macro, else the system's name; the queue id is the
 *	message's. The event kinds: AUDIT_EV_MESSAGE at end of message;
 *	AUDIT_EV_ABORTED for a message that ended without one (no sha256 or
 *	attachments: the content is incomplete); AUDIT_EV_CONNECTION for a
 *	connection that ended without any message.
 *
 *	Privacy (state.h): redacted members are left out and named in
 *	privacy.redacted. With pseudonymize_addresses, every address's local
 *	part becomes "anon-" and the first 16 hex digits of the HMAC-SHA256
 *	of the lower-cased local part under the pseudonym key; the domain
 *	is kept, so counts per domain and joins between records still work.
 *	audit_pseudonym() is that mapping (also used by export to look up
 *	a real address); an address without "@" is mapped as a whole.
 * DIAGNOSTICS
 *	audit_record_build() returns a new string, or NULL with *err when
 *	the spooled body cannot be read (the caller tempfails).
 */
#ifndef AUDIT_RECORD_H
#define AUDIT_RECORD_H

#include <stddef.h>
#include <time.h>

#include "common/milter/msg.h"
#include "milters/audit/state.h"

typedef enum { AUDIT_EV_MESSAGE, AUDIT_EV_ABORTED, AUDIT_EV_CONNECTION } audit_event;

typedef struct audit_env {
	struct timespec now;
	const char *host;	/* NULL: host_name, {j}, system name */
	const char *queue_id;	/* NULL: the message's */
} audit_env;

char *audit_record_build(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
			 const audit_env *env, size_t *len, char **err);
char *audit_pseudonym(const audit_state *st, const char *address);
const char *audit_event_name(audit_event ev);

#endif
