/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	decide - postern-tls decisions: a session's TLS facts against a policy
 * SYNOPSIS
 *	#include "milters/tls/decide.h"
 *
 *	unsigned ptls_check(const ptls_policy *p, const ptls_facts *f,
 *	                    unsigned mask, pn_buf *required, pn_buf *seen);
 *	int  ptls_verified(const ptls_facts *f);
 *	void ptls_facts_summary(const ptls_facts *f, pn_buf *out);
 *
 *	void ptls_decide(const ptls_policy_set *s, ptls_stage stage,
 *	                 const char *path, const ptls_facts *f,
 *	                 ptls_decision *d);
 *	void ptls_decide_addr(const ptls_policy_set *s, ptls_stage stage,
 *	                      const pn_addr *a, int ok, const char *path,
 *	                      const ptls_facts *f, ptls_decision *d);
 *	char *ptls_decision_log(const ptls_decision *d, const ptls_facts *f);
 *	void ptls_decision_clear(ptls_decision *d);
 *
 *	void ptls_findings_add(ptls_findings *fs, const ptls_decision *d);
 *	int  ptls_findings_eom(const ptls_findings *fs, const ptls_facts *f,
 *	                       const char *trace_header, const char *tag_header,
 *	                       pn_actions *a);
 *	void ptls_findings_free(ptls_findings *fs);
 * DESCRIPTION
 *	The engine of postern-tls, free of libmilter so that the daemon, the
 *	`test` and `probe` tools and the unit tests all run the same code.
 *
 *	ptls_facts are the TLS facts of one SMTP session as the MTA reports
 *	them in macros: {tls_version} (NULL in a plaintext session),
 *	{cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}, Sendmail's
 *	{verify} (NULL under Postfix) and the client address.
 *	ptls_verified() says whether the client certificate was verified:
 *	{verify} = OK when the MTA sends {verify} (Sendmail), otherwise the
 *	presence of {cert_subject}, which Postfix sends only for a verified
 *	certificate. Sendmail's {cert_subject}/{cert_issuer} are xtext-
 *	encoded distinguished names: patterns are tried against the decoded
 *	name and against its last CN.
 *
 *	ptls_check() tests the requirements of p selected by mask
 *	(PTLS_REQ_*) and returns those that failed; for each failure it
 *	appends what was required and what was seen to the two buffers
 *	(", " separated; either may be NULL). In a plaintext session with
 *	tls=required every TLS requirement fails at once, so one reply
 *	tells the client everything it must change.
 *
 *	ptls_decide() is the decision at one SMTP stage: at MAIL the
 *	sender's domain is looked up, at RCPT the recipient's; a policy
 *	applies when its direction covers the stage (inbound: MAIL,
 *	outbound: RCPT). The first matching line decides, as in a Postfix
 *	table (exact domain, then .parent, then "*").
 *
 *	The address decided on is the canonical one (common/addr.h
 *	pn_addr_parse_envelope: the MTA's {mail_addr}/{rcpt_addr} when it
 *	sent them, else the path without comments and stray spaces, domain
 *	normalised to lower-case A-labels): ptls_decide_addr() takes it
 *	ready-made (ok = 0 when no domain could be made out), ptls_decide()
 *	makes it from the path as written. An address whose domain cannot
 *	be made out is decided by the "*" line; without one it gets 451
 *	4.7.0, never "no policy". A bare local part ("<root>") is qualified
 *	by the MTA with its own domain, so "*" (if any) decides it. When the
 *	local part routes elsewhere ("a%partner.example@relay",
 *	"partner.example!a": Postfix's percent hack and bang paths), the
 *	line for that domain is checked too and a refusal by either wins.
 *	The null sender "<>" has no domain and no policy. d->verdict is
 *	PN_REJECT or PN_TEMPFAIL with d->rcode, d->xcode and d->text when the
 *	action refuses; hold, tag and log leave PN_CONTINUE and are
 *	remembered with ptls_findings_add() for end of message.
 *	Reply codes: 550/450 with X.7.10 "Encryption needed" (RFC 5248
 *	registry) when an encryption requirement failed (TLS, version, bits,
 *	cipher), else X.7.1 "Delivery not authorized" (RFC 3463) for the
 *	client certificate and client network.
 *
 *	ptls_findings_eom() turns what was remembered into end-of-message
 *	actions: one quarantine (Postfix's hold queue) when any finding
 *	says hold, one tag_header per tag finding, and, when trace_header
 *	is not empty, a trace header inserted on top that summarises the
 *	session's TLS and every policy that matched. Returns the number of
 *	actions added.
 *
 *	Every text built here (replies, headers, log lines) carries mail
 *	data only as printable ASCII without "%", cut to a bounded length.
 */
#ifndef PTLS_DECIDE_H
#define PTLS_DECIDE_H

#include "common/actions.h"
#include "common/addr.h"
#include "common/buf.h"
#include "milters/tls/policy.h"

typedef struct ptls_facts {
	const char *version;		/* NULL: plaintext */
	const char *cipher;
	const char *bits;
	const char *subject;
	const char *issuer;
	const char *verify;		/* Sendmail's {verify}, or NULL */
	const char *client_addr;	/* NULL: unknown (local) */
} ptls_facts;

#define PTLS_REQ_TLS		0x01
#define PTLS_REQ_VERSION	0x02
#define PTLS_REQ_BITS		0x04
#define PTLS_REQ_CIPHER		0x08
#define PTLS_REQ_VERIFY		0x10
#define PTLS_REQ_SUBJECT	0x20
#define PTLS_REQ_ISSUER		0x40
#define PTLS_REQ_CLIENTS	0x80
#define PTLS_REQ_ENCRYPTION	(PTLS_REQ_TLS | PTLS_REQ_VERSION | PTLS_REQ_BITS | PTLS_REQ_CIPHER)
#define PTLS_REQ_ALL		0xff

typedef enum ptls_stage { PTLS_STAGE_MAIL, PTLS_STAGE_RCPT } ptls_stage;

typedef struct ptls_decision {
	const ptls_policy *policy;	/* NULL: nothing applies */
	ptls_stage stage;
	char *address;		/* the path without brackets ("" for <>) */
	char *domain;		/* lower-cased; "" when none */
	unsigned failed;	/* PTLS_REQ_* */
	char *required;		/* failed requirements, NULL when it passed */
	char *seen;
	pn_verdict verdict;	/* PN_REJECT, PN_TEMPFAIL or PN_CONTINUE */
	const char *rcode;	/* "550" ... when refused */
	const char *xcode;
	char *text;		/* reply text when refused */
} ptls_decision;

typedef struct ptls_finding {
	const ptls_policy *policy;
	ptls_stage stage;
	char *domain;
	unsigned failed;
	char *required, *seen;
} ptls_finding;

typedef struct ptls_findings {
	ptls_finding *items;
	size_t count, cap;
} ptls_findings;

int ptls_verified(const ptls_facts *f);
unsigned ptls_check(const ptls_policy *p, const ptls_facts *f, unsigned mask, pn_buf *required,
		    pn_buf *seen);
void ptls_facts_summary(const ptls_facts *f, pn_buf *out);
void ptls_decide(const ptls_policy_set *s, ptls_stage stage, const char *path,
		 const ptls_facts *f, ptls_decision *d);
void ptls_decide_addr(const ptls_policy_set *s, ptls_stage stage, const pn_addr *a, int ok,
		      const char *path, const ptls_facts *f, ptls_decision *d);
char *ptls_decision_log(const ptls_decision *d, const ptls_facts *f);
void ptls_decision_clear(ptls_decision *d);
void ptls_findings_add(ptls_findings *fs, const ptls_decision *d);
int ptls_findings_eom(const ptls_findings *fs, const ptls_facts *f, const char *trace_header,
		      const char *tag_header, pn_actions *a);
char *ptls_findings_reason(const ptls_finding *fi);
void ptls_findings_free(ptls_findings *fs);
char *ptls_clean(const char *s, size_t max);

#endif
