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
 *	char *audit_record_build_outcome(const audit_state *st, pn_conn *c,
 *	                         pn_msg *m, audit_event ev, const audit_env *env,
 *	                         const pn_outcome *o, unsigned long long corrects,
 *	                         size_t *len, char **err);
 *	const char *audit_step_name(unsigned step);
 *	char *audit_record_build_outcome(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
				 const audit_env *env, const pn_outcome *o,
				 unsigned long long corrects, size_t *len, char **err);
const char *audit_step_name(unsigned step);
char *audit_pseudonym(const audit_state *st, const char *address);
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
 *	    engines {ENGINE {KEY: VALUE}},
 *	    refusal {step, verdict, by, code, xcode, text, reason},
 *	    corrects_seq,
 *	    privacy {redacted[], pseudonymized}
 *
 *	engines is the message's story (msg.h, pn_msg_note): every note the
 *	engines that ran before audit in the same process wrote (tls:
 *	policy, verdict; sort: actions; archive: id, sha256), grouped by
 *	engine, in the order written. It is absent when there are no notes
 *	(a standalone postern-audit). At most AUDIT_MAX_NOTES notes are written,
 *	each value cut at AUDIT_MAX_NOTE_BYTES; with pseudonymize_addresses every
 *	word of a value that holds an "@" is pseudonymised like an address.
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
 *	audit_record_build_outcome() writes what the MTA was told when it
 *	was not what a message record says, from the milter layer's
 *	outcome o (engine.h): AUDIT_EV_REFUSED for an attempt refused at
 *	some step (connect, helo, mail, rcpt, data, eoh, eom: a reject,
 *	tempfail or discard by an engine, or by the milter layer, "by"
 *	"milter"); its envelope lists the refused recipient at RCPT, else
 *	every recipient accepted so far; headers and size only when the
 *	headers had arrived. AUDIT_EV_OUTCOME when the message record was
 *	already written (its seq in corrects_seq) and the MTA got another
 *	verdict after it (a later engine's modification failed). refusal
 *	says which step, which verdict, which engine ("by"), the reply
 *	(code, xcode, text, cut at AUDIT_MAX_NOTE_BYTES) and, when the refusing
 *	engine noted one, its "reason".
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

#include "common/milter/engine.h"
#include "common/milter/msg.h"
#include "milters/audit/state.h"

typedef enum {
	AUDIT_EV_MESSAGE, AUDIT_EV_ABORTED, AUDIT_EV_CONNECTION, AUDIT_EV_REFUSED, AUDIT_EV_OUTCOME
} audit_event;

/* Bounds on what the engines' notes and a reply can add to a record. */
#define AUDIT_MAX_NOTES 64
#define AUDIT_MAX_NOTE_BYTES 512

typedef struct audit_env {
	struct timespec now;
	const char *host;	/* NULL: host_name, {j}, system name */
	const char *queue_id;	/* NULL: the message's */
} audit_env;

char *audit_record_build(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
			 const audit_env *env, size_t *len, char **err);
char *audit_record_build_outcome(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
				 const audit_env *env, const pn_outcome *o,
				 unsigned long long corrects, size_t *len, char **err);
const char *audit_step_name(unsigned step);
char *audit_pseudonym(const audit_state *st, const char *address);
const char *audit_event_name(audit_event ev);

#endif
