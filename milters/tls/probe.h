/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	probe - connect to an SMTP server, STARTTLS, and report what was seen
 * SYNOPSIS
 *	#include "milters/tls/probe.h"
 *
 *	int  ptls_probe_run(const ptls_probe_opts *o, ptls_probe *r);
 *	void ptls_probe_print(const ptls_probe *r, FILE *out);
 *	int  ptls_probe_policy(const ptls_probe *r, const ptls_policy *p,
 *	                       const char *domain, pn_buf *required,
 *	                       pn_buf *seen);
 *	void ptls_probe_clear(ptls_probe *r);
 * DESCRIPTION
 *	ptls_probe_run() connects to o->host port o->port, reads the
 *	greeting, sends EHLO, and when STARTTLS is offered starts TLS
 *	(OpenSSL, SNI o->servername or the host name) and records the
 *	protocol, cipher and bits, every certificate of the chain the
 *	server sent (subject, issuer, subjectAltNames, expiry, SHA-256
 *	fingerprint in the format of openssl x509 -fingerprint -sha256),
 *	whether the chain verified against o->cafile (or the system's
 *	trust store when NULL), and whether the certificate matches the
 *	name checked (o->servername, else the host). It then sends EHLO
 *	and QUIT over TLS. Every read and write has o->timeout seconds.
 *
 *	ptls_probe_print() writes the result as "name: value" lines.
 *	ptls_probe_policy() tells whether the result satisfies policy p
 *	for outbound delivery to domain: TLS itself (unless the policy
 *	allows plain text), min_version, min_bits and ciphers (the checks
 *	the milter applies inbound, decide.h), and the outbound level:
 *	encrypt needs TLS; verify and secure need a verified chain and a
 *	certificate name that fits match= (default: verify checks the
 *	host name, secure the domain and its subdomains, as Postfix's
 *	smtp_tls_verify_cert_match and smtp_tls_secure_cert_match do);
 *	fingerprint needs the leaf's SHA-256 fingerprint in match=; dane
 *	cannot be checked without DNSSEC and is reported so. Failures are
 *	described in the two buffers.
 * DIAGNOSTICS
 *	ptls_probe_run() returns 0 when TLS was established, 1 when the
 *	server answered but TLS could not be (not offered, handshake
 *	failed; r->error says why), -1 when no SMTP session was possible
 *	(r->error says why). ptls_probe_policy() returns 1 when satisfied.
 */
#ifndef PTLS_PROBE_H
#define PTLS_PROBE_H

#include <stdio.h>

#include "common/buf.h"
#include "milters/tls/policy.h"

typedef struct ptls_probe_opts {
	const char *host;
	const char *port;		/* "25" */
	const char *cafile;		/* NULL: system trust store */
	const char *servername;		/* SNI and name check; NULL: host */
	const char *helo;		/* EHLO name */
	int timeout;			/* seconds */
} ptls_probe_opts;

typedef struct ptls_probe_cert {
	char *subject, *issuer;
	char *sans;			/* "DNS:a, DNS:b, IP:192.0.2.1" or "" */
	char *not_after;		/* "2035-01-01T00:00:00Z" */
	char *sha256;			/* "AB:CD:..." */
	char **dns;			/* DNS subjectAltNames, NULL-terminated */
} ptls_probe_cert;

typedef struct ptls_probe {
	char *host, *port;
	char *banner;			/* the greeting's first line */
	int starttls_offered;
	int tls;			/* handshake completed */
	char *protocol, *cipher;
	int bits;
	ptls_probe_cert *chain;
	size_t nchain;
	int verified;
	char *verify_result;		/* "ok" or OpenSSL's reason */
	const char *cafile;
	char *name_checked;
	int name_ok;
	char *error;			/* why it stopped early, or NULL */
	void *leaf;			/* X509 * of the server, for name checks */
} ptls_probe;

int ptls_probe_run(const ptls_probe_opts *o, ptls_probe *r);
void ptls_probe_print(const ptls_probe *r, FILE *out);
int ptls_probe_policy(const ptls_probe *r, const ptls_policy *p, const char *domain,
		      pn_buf *required, pn_buf *seen);
void ptls_probe_clear(ptls_probe *r);

#endif
