/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	cidr - IPv4/IPv6 networks and lists of them ("192.0.2.0/24,2001:db8::/32")
 * SYNOPSIS
 *	#include "common/cidr.h"
 *
 *	pn_cidr_list *pn_cidr_list_parse(const char *text, char **err);
 *	int  pn_cidr_list_match(const pn_cidr_list *l, const char *ip);
 *	int  pn_cidr_list_match_addr(const pn_cidr_list *l, const pn_ip *ip);
 *	size_t pn_cidr_list_count(const pn_cidr_list *l);
 *	void pn_cidr_list_free(pn_cidr_list *l);
 *	int  pn_ip_parse(const char *text, pn_ip *out);
 * DESCRIPTION
 *	A list is written as networks separated by commas and/or white space:
 *	"192.0.2.0/24, 2001:db8::/32 198.51.100.7". A bare address is a /32
 *	(IPv4) or /128 (IPv6) network. Postfix's "[2001:db8::]/32" brackets
 *	and its "IPv6:" address prefix are accepted. IPv4-mapped IPv6
 *	addresses (::ffff:192.0.2.1) match IPv4 networks, because Postfix and
 *	Sendmail report IPv4 clients either way depending on the listener.
 *	Host bits set below the prefix length are an error, as in Postfix
 *	("192.0.2.1/24" is ambiguous: did the admin mean the host or the net?).
 *
 *	Lists are immutable after parsing and safe to share between threads.
 * DIAGNOSTICS
 *	pn_cidr_list_parse() returns NULL and sets *err (pn_malloc'd) naming
 *	the bad element and why. pn_cidr_list_match() returns 1 for a match,
 *	0 otherwise (an unparsable address never matches). pn_ip_parse()
 *	returns 0 or -1.
 */
#ifndef PN_CIDR_H
#define PN_CIDR_H

#include <stddef.h>

typedef struct pn_ip {
	int family;			/* 4 or 6 */
	unsigned char bytes[16];	/* network order; IPv4 uses the first 4 */
} pn_ip;

typedef struct pn_cidr_list pn_cidr_list;

int pn_ip_parse(const char *text, pn_ip *out);
pn_cidr_list *pn_cidr_list_parse(const char *text, char **err);
int pn_cidr_list_match(const pn_cidr_list *l, const char *ip);
int pn_cidr_list_match_addr(const pn_cidr_list *l, const pn_ip *ip);
size_t pn_cidr_list_count(const pn_cidr_list *l);
void pn_cidr_list_free(pn_cidr_list *l);

#endif
