/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	chain - the hash chain and MAC that make the audit trail tamper-evident
 * SYNOPSIS
 *	#include "milters/audit/chain.h"
 *
 *	void audit_head_init(audit_head *h);
 *	int audit_chain_seal(pn_buf *line, const char *body, size_t len,
 *	                     const audit_head *prev, const unsigned char *key,
 *	                     size_t keylen);
 *	int audit_chain_seal_epoch(pn_buf *line, const char *body, size_t len,
 *	                     const audit_head *prev, const unsigned char *key,
 *	                     size_t keylen, long long epoch);
 *	int audit_chain_seal_epoch(pn_buf *line, const char *body, size_t len, const audit_head *prev,
			   const unsigned char *key, size_t keylen, long long epoch);
void audit_chain_advance(audit_head *h, unsigned long long seq,
 *	                         const char *line, size_t len);
 *	int audit_chain_parse(const char *line, size_t len, audit_link *out,
 *	                      char **err);
 *	int audit_chain_mac_ok(const char *line, size_t len, const audit_link *l,
 *	                       const unsigned char *key, size_t keylen);
 *	int audit_head_parse(const char *text, audit_head *h);
 *	void audit_line_hash(const char *line, size_t len, char hex[65]);
 * DESCRIPTION
 *	A record line is a JSON object written on one line. The record
 *	builder produces its body, an object without the chain fields;
 *	audit_chain_seal() turns it into the line
 *
 *	    {"schema":1,"seq":N,<body members>,"prev":"HEX"}
 *
 *	and, when a key is given, appends a last member "mac": the
 *	HMAC-SHA256 under key of that whole line without the mac member,
 *	as lower-case hex. audit_chain_seal_epoch() with epoch >= 0 also
 *	writes "epoch":E just before the mac (so the mac covers it): the
 *	forward-secure key epoch the mac was made with (seal.h).
 *	prev is the SHA-256 of the previous line's exact
 *	bytes (without its newline); the first record of a trail has 64
 *	zeros. Because both hashes cover bytes, not a re-serialisation,
 *	verification never depends on how a JSON library orders or escapes.
 *
 *	audit_head holds what the next record needs: the last seq (0 for an
 *	empty trail) and the hash of the last line. audit_chain_advance()
 *	moves it past a line just written. audit_head_parse() reads the
 *	"SEQ:HEX" form that `postern-audit checkpoint` prints.
 *
 *	audit_chain_parse() reads back a line for verify, export and the
 *	trail's recovery: it must be one JSON object with an integer seq of
 *	at least 1 and a 64-hex prev; mac, if present, must be 64 hex and
 *	the last member. audit_chain_mac_ok() recomputes the MAC over the
 *	line without its mac member.
 * DIAGNOSTICS
 *	audit_chain_seal() returns 0, or -1 when body is not a JSON object
 *	text or the line would exceed the buffer's limit.
 *	audit_chain_parse() returns 0, or -1 with *err (pn_free) saying what
 *	is wrong. audit_chain_mac_ok() returns 1 or 0. audit_head_parse()
 *	returns 0 or -1.
 */
#ifndef AUDIT_CHAIN_H
#define AUDIT_CHAIN_H

#include <stddef.h>

#include "common/buf.h"
#include "common/crypto.h"

#define AUDIT_SCHEMA_VERSION 1
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct audit_head {
	unsigned long long seq;
	char hash[PN_SHA256_HEX_LEN + 1];
} audit_head;

typedef struct audit_link {
	unsigned long long seq;
	char prev[PN_SHA256_HEX_LEN + 1];
	int has_mac;
	char mac[PN_SHA256_HEX_LEN + 1];
	char hash[PN_SHA256_HEX_LEN + 1];	/* SHA-256 of this line */
	int has_epoch;
	unsigned long long epoch;	/* sealing epoch, 0 when absent */
	char event[24];			/* the event member, "" when absent */
} audit_link;

void audit_head_init(audit_head *h);
int audit_chain_seal(pn_buf *line, const char *body, size_t len, const audit_head *prev,
		     const unsigned char *key, size_t keylen);
int audit_chain_seal_epoch(pn_buf *line, const char *body, size_t len, const audit_head *prev,
			   const unsigned char *key, size_t keylen, long long epoch);
void audit_chain_advance(audit_head *h, unsigned long long seq, const char *line, size_t len);
int audit_chain_parse(const char *line, size_t len, audit_link *out, char **err);
int audit_chain_mac_ok(const char *line, size_t len, const audit_link *l,
		       const unsigned char *key, size_t keylen);
int audit_head_parse(const char *text, audit_head *h);
void audit_line_hash(const char *line, size_t len, char hex[PN_SHA256_HEX_LEN + 1]);

#endif
