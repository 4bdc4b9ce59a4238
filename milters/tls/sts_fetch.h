/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sts_fetch - the network half of MTA-STS: the _mta-sts TXT record and
 *	the HTTPS policy fetch, each within a deadline
 * SYNOPSIS
 *	#include "milters/tls/sts_fetch.h"
 *
 *	int ptls_sts_net_init(ptls_sts_net *n, const char *resolver,
 *	                      const char *ca_file, unsigned https_port,
 *	                      long long timeout_ms, char **err);
 *	void ptls_sts_net_free(ptls_sts_net *n);
 *	int ptls_sts_dns_id(const ptls_sts_net *n, const char *domain,
 *	                    char id[PTLS_STS_ID_MAX + 1], char **why);
 *	int ptls_sts_https_policy(const ptls_sts_net *n, const char *domain,
 *	                          char **body, size_t *len, char **why);
 *	int ptls_sts_dns_mx(const ptls_sts_net *n, const char *domain,
 *	                    char **hosts, int max, char **why);
 *	int ptls_sts_txt_answer(const unsigned char *ans, int len,
 *	                        const char *domain, char id[PTLS_STS_ID_MAX + 1],
 *	                        char **why);
 *	int ptls_sts_mx_answer(const unsigned char *ans, int len, char **hosts,
 *	                       int max);
 * DESCRIPTION
 *	DNS goes through libresolv's thread-safe res_n* calls (glibc, no
 *	extra dependency) with its own res_state per call. A resolver
 *	("ADDRESS", "ADDRESS:PORT", "IPV6" or "[IPV6]:PORT") replaces the
 *	servers of /etc/resolv.conf: the query libresolv builds (random id)
 *	goes there over a connected UDP socket, then TCP when the answer is
 *	truncated, and only an answer with its id and question counts. The
 *	policy host mta-sts.DOMAIN is resolved through the same resolver (A, then AAAA),
 *	never through getaddrinfo(), so DNS and HTTPS see the same answers.
 *
 *	ptls_sts_dns_id() queries TXT "_mta-sts.DOMAIN": 1 and the id when
 *	exactly one record starts with "v=STSv1" and parses, 0 when there is
 *	none (NXDOMAIN, no data, only other TXT records, or several STS
 *	records, RFC 8461 3.1), -1 on a temporary error or a malformed
 *	record. Character strings of one record are joined (RFC 7208 style).
 *	ptls_sts_txt_answer() reads the id the same way from a DNS answer
 *	already received (len bytes at ans), and ptls_sts_mx_answer() the MX
 *	host names (-1 for an answer that does not parse): the parts that
 *	read what the network sent, apart for the fuzz target.
 *
 *	ptls_sts_https_policy() GETs
 *	https://mta-sts.DOMAIN[:port]/.well-known/mta-sts.txt over TLS 1.2+
 *	with SNI, chain verification against ca_file (or OpenSSL's default
 *	store) and host name verification (X509_check_host via
 *	SSL_set1_host). Only "200" with a text/plain body counts; redirects
 *	are not followed (RFC 8461 3.3). Content-Length, chunked and
 *	read-until-close bodies are read, at most PTLS_STS_POLICY_MAX bytes.
 *	Every step (DNS, connect, handshake, read) shares the deadline
 *	timeout_ms from the call.
 *
 *	ptls_sts_dns_mx() stores up to max MX host names of domain (pn_strdup,
 *	the caller frees) and returns how many, 0 with *why when there is no
 *	MX, -1 with *why on a DNS failure.
 * DIAGNOSTICS
 *	*why (pn_free) says what failed, e.g. "HTTPS mta-sts.example.com:
 *	certificate verify failed: unable to get local issuer certificate",
 *	"timed out after 5000 ms during the TLS handshake", "HTTP status 404".
 *	ptls_sts_net_init() fails for a bad resolver address or an
 *	unreadable CA file.
 */
#ifndef PTLS_STS_FETCH_H
#define PTLS_STS_FETCH_H

#include <netinet/in.h>
#include <openssl/ssl.h>

#include "milters/tls/sts.h"

typedef struct ptls_sts_net {
	int have_resolver;
	struct sockaddr_storage resolver;
	socklen_t resolver_len;
	SSL_CTX *ctx;
	unsigned https_port;
	long long timeout_ms;
} ptls_sts_net;

int ptls_sts_net_init(ptls_sts_net *n, const char *resolver, const char *ca_file,
		      unsigned https_port, long long timeout_ms, char **err);
void ptls_sts_net_free(ptls_sts_net *n);
int ptls_sts_txt_answer(const unsigned char *ans, int len, const char *domain,
			char id[PTLS_STS_ID_MAX + 1], char **why);
int ptls_sts_mx_answer(const unsigned char *ans, int len, char **hosts, int max);
int ptls_sts_dns_id(const ptls_sts_net *n, const char *domain, char id[PTLS_STS_ID_MAX + 1],
		    char **why);
int ptls_sts_https_policy(const ptls_sts_net *n, const char *domain, char **body, size_t *len,
			  char **why);
int ptls_sts_dns_mx(const ptls_sts_net *n, const char *domain, char **hosts, int max, char **why);

#endif
