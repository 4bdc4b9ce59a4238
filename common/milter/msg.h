/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	msg - per-connection and per-message context shared by every daemon
 * SYNOPSIS
 *	#include "common/milter/msg.h"
 *
 *	pn_conn *pn_conn_new(pn_snapshot *snap);
 *	void pn_conn_set_macro(pn_conn *c, const char *name, const char *value);
 *	const char *pn_conn_macro(const pn_conn *c, const char *name);
 *	const char *pn_conn_queue_id(const pn_conn *c);
 *	void pn_conn_free(pn_conn *c);
 *
 *	pn_msg *pn_msg_new(size_t body_mem_limit, const char *tmp_dir);
 *	void pn_msg_set_sender(pn_msg *m, const char *sender, char **esmtp_args);
 *	void pn_msg_add_rcpt(pn_msg *m, const char *rcpt, char **esmtp_args);
 *	void pn_msg_set_header_limits(pn_msg *m, size_t max_count, size_t max_bytes);
 *	void pn_msg_set_sender_mta(pn_msg *m, const char *mail_addr);
 *	void pn_msg_set_rcpt_mta(pn_msg *m, const char *rcpt_addr);
 *	void pn_msg_drop_last_rcpt(pn_msg *m);
 *	void pn_msg_add_header(pn_msg *m, const char *name, const char *raw_value);
 *	int  pn_msg_add_body(pn_msg *m, const void *chunk, size_t len);
 *	const char *pn_msg_header(const pn_msg *m, const char *name, int occurrence);
 *	int  pn_msg_write_headers(const pn_msg *m, pn_buf *out);
 *	void pn_msg_free(pn_msg *m);
 *
 *	void pn_msg_note(pn_msg *m, const char *engine, const char *key,
 *	                 const char *value);
 *	const char *pn_msg_note_get(const pn_msg *m, const char *engine,
 *	                            const char *key);
 *
 *	pn_msg *pn_msg_load(const void *data, size_t len, size_t body_mem_limit,
 *	                    const char *tmp_dir);
 * DESCRIPTION
 *	A pn_conn lives from the milter connect callback to close; it holds
 *	the client facts, the macros seen so far (Postfix sends each stage's
 *	macros once; smfi_getsymval also answers for earlier stages, and this
 *	context keeps them the same way), the configuration snapshot the
 *	connection started with, and the current message.
 *
 *	A pn_msg lives from MAIL FROM to end of message or abort: envelope
 *	sender and ESMTP arguments, recipients with theirs, headers in the
 *	order received, the body in a pn_spool (memory up to a limit, then an
 *	anonymous temp file) and the total size.
 *
 *	Every envelope address also has one canonical form that every daemon
 *	decides on (m->sender_canon, r->canon; common/addr.h
 *	pn_addr_parse_envelope): the address as the MTA itself sees it.
 *	pn_msg_set_sender() and pn_msg_add_rcpt() fill it from the path as
 *	given (comments and stray spaces dropped, domain normalised);
 *	pn_msg_set_sender_mta() and pn_msg_set_rcpt_mta() (the last
 *	recipient) replace it with the MTA's own parse, Postfix's and
 *	Sendmail's {mail_addr} and {rcpt_addr} macros, when the MTA sent one
 *	(NULL changes nothing). sender_canon_ok / canon_ok are 0 when no
 *	domain could be made out: a policy then applies its catch-all rule
 *	or a temporary failure, never "no policy".
 *	pn_msg_drop_last_rcpt() forgets the last recipient (one a daemon
 *	refused).
 *
 *	Headers are kept raw: h->raw is the value exactly as the MTA gave it
 *	(leading space included when the MTA honours SMFIP_HDR_LEADSPC, folded
 *	lines joined by LF); h->value points into raw past leading white
 *	space, which is what most engines compare. pn_msg_write_headers()
 *	rebuilds the header block as it was on the wire (CRLF line ends,
 *	blank line at the end), so header block + body = the message as the
 *	milter received it.
 *
 *	pn_conn_cert_verified() tells whether the client presented a
 *	certificate the MTA verified: Sendmail says so in {verify} (OK);
 *	Postfix sends {cert_subject} (a common name) only for a verified one.
 *	A full DN ("/O=.../CN=...") without {verify} comes from a Sendmail
 *	whose macro lists lack {verify}; it sends unverified subjects too, so
 *	that counts as not verified. Empty values count as absent.
 *
 *	The fields' names and values are packed into large blocks owned by
 *	the message (a field costs its bytes and its pn_header, not two heap
 *	allocations): engines read them and never free or replace them.
 *	pn_msg_set_header_limits() bounds what one message may make a
 *	daemon hold: past max_count fields or max_bytes of header block
 *	(0: no limit), pn_msg_add_header() keeps nothing more and counts the
 *	fields left out in headers_over (header_bytes still counts them);
 *	the milter layer refuses such a message at its end (see
 *	max_header_count in milter.h).
 *
 *	pn_msg_load() builds a message from an RFC 5322 file (LF or CRLF), for
 *	the offline tools (`postern-sort test`, `postern-archive import`)
 *	that must treat a message exactly as the daemon would.
 *
 *	The message's story: pn_msg_note() records one engine's decision
 *	as a key and a value ("tls", "policy", "partner.example
 *	min_version=TLSv1.2"; "archive", "id", "..."), replacing an earlier
 *	note of the same engine and key; m->notes lists them in the order
 *	first written. Engines that run in one process (postern-suite)
 *	read each other's notes: the audit engine, last, writes them all
 *	into the message's record. Values are copied; keep them short.
 *
 *	Engines attach their own state with c->engine_data / m->engine_data;
 *	the milter layer calls the engine's free hooks before these objects
 *	are freed. Nothing here calls libmilter.
 * DIAGNOSTICS
 *	pn_msg_add_body() returns -1 with errno when the spool cannot be
 *	written (disk full); the caller answers tempfail.
 */
#ifndef PN_MSG_H
#define PN_MSG_H

#include <stddef.h>
#include <time.h>

#include "common/actions.h"
#include "common/addr.h"
#include "common/buf.h"
#include "common/spool.h"

typedef struct pn_snapshot pn_snapshot;

typedef struct pn_macro {
	char *name;		/* "{tls_version}", "i", "j" ... as the MTA names it */
	char *value;
} pn_macro;

typedef struct pn_header {
	char *name;
	char *raw;		/* value as received */
	const char *value;	/* raw without leading white space */
} pn_header;

typedef struct pn_note {
	char *engine;		/* "tls", "sort", "archive", "audit" */
	char *key;
	char *value;
} pn_note;

typedef struct pn_rcpt {
	char *addr;		/* as given, e.g. "<user@example.com>" */
	char **args;		/* ESMTP arguments, NULL-terminated */
	pn_addr canon;		/* canonical address (see above) */
	int canon_ok;		/* 0: no domain could be made out */
} pn_rcpt;

typedef struct pn_msg {
	char *queue_id;		/* NULL until the MTA tells (Postfix: at DATA) */
	char *sender;		/* as given, "<>" for the null sender */
	char **sender_args;	/* ESMTP arguments, NULL-terminated */
	pn_addr sender_canon;	/* canonical sender; address "" for <> */
	int sender_canon_ok;	/* 0: no domain could be made out */
	pn_rcpt *rcpts;
	size_t nrcpts, rcpt_cap;
	pn_header *headers;
	size_t nheaders, header_cap;
	size_t header_bytes;	/* header block size as on the wire */
	size_t max_headers;	/* fields kept at most (0: no limit) */
	size_t max_header_bytes;	/* header block bytes kept at most (0: no limit) */
	size_t headers_over;	/* fields seen past a limit (not kept) */
	void *header_blocks;	/* storage of the fields' names and values */
	pn_spool *body;
	struct timespec started;
	int body_error;		/* errno of a failed spool write, else 0 */
	pn_note *notes;		/* the engines' decisions (pn_msg_note) */
	size_t nnotes, note_cap;
	void *engine_data;
} pn_msg;

typedef struct pn_conn {
	pn_snapshot *snap;	/* configuration this connection started with */
	char *client_addr;	/* "192.0.2.1", "2001:db8::1", or NULL (local) */
	char *client_name;	/* as the MTA resolved it, "unknown" if none */
	unsigned client_port;
	char *helo;
	pn_macro *macros;
	size_t nmacros, macro_cap;
	pn_msg *msg;		/* current message, or NULL */
	unsigned long messages;	/* messages started on this connection */
	struct timespec started;
	unsigned long mta_flags;	/* protocol flags negotiated (milter layer's) */
	unsigned metric_verdict;	/* milter layer's: refusal at connect/HELO, as
					 * a common/metrics.h verdict (0: accepted) */
	void *engine_data;
} pn_conn;

pn_conn *pn_conn_new(pn_snapshot *snap);
void pn_conn_set_macro(pn_conn *c, const char *name, const char *value);
const char *pn_conn_macro(const pn_conn *c, const char *name);
void pn_conn_forget_message_macros(pn_conn *c);
const char *pn_conn_queue_id(const pn_conn *c);
int pn_conn_cert_verified(const pn_conn *c);
void pn_conn_free(pn_conn *c);

pn_msg *pn_msg_new(size_t body_mem_limit, const char *tmp_dir);
void pn_msg_set_sender(pn_msg *m, const char *sender, char **esmtp_args);
void pn_msg_add_rcpt(pn_msg *m, const char *rcpt, char **esmtp_args);
void pn_msg_set_header_limits(pn_msg *m, size_t max_count, size_t max_bytes);
void pn_msg_set_sender_mta(pn_msg *m, const char *mail_addr);
void pn_msg_set_rcpt_mta(pn_msg *m, const char *rcpt_addr);
void pn_msg_drop_last_rcpt(pn_msg *m);
void pn_msg_add_header(pn_msg *m, const char *name, const char *raw_value);
int pn_msg_add_body(pn_msg *m, const void *chunk, size_t len);
const char *pn_msg_header(const pn_msg *m, const char *name, int occurrence);
int pn_msg_write_headers(const pn_msg *m, pn_buf *out);
size_t pn_msg_size(const pn_msg *m);
void pn_msg_free(pn_msg *m);
void pn_msg_note(pn_msg *m, const char *engine, const char *key, const char *value);
const char *pn_msg_note_get(const pn_msg *m, const char *engine, const char *key);
pn_msg *pn_msg_load(const void *data, size_t len, size_t body_mem_limit, const char *tmp_dir);
char **pn_strv_dup(char **v);
void pn_strv_free(char **v);

#endif
