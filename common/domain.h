/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	domain - one normalised form for domain names (IDNA 2008 / UTS #46)
 * SYNOPSIS
 *	#include "common/domain.h"
 *
 *	char *pn_domain_normalise(const char *domain);
 *	char *pn_domain_normalise_n(const char *domain, size_t len);
 * DESCRIPTION
 *	A policy table and the mail it is applied to must spell a domain the
 *	same way, or "BÜCHER.example." slips past a key "xn--bcher-kva.example".
 *	pn_domain_normalise() returns the one form every Postern table and
 *	every envelope address uses:
 *
 *	- one trailing dot removed ("example.com." is "example.com");
 *	- a domain with non-ASCII bytes (a U-label, SMTPUTF8 mail) is
 *	  converted to its A-label form with libidn2 (idn2_to_ascii_8z with
 *	  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL: UTS #46 non-transitional
 *	  mapping, which also folds case, NFC, full-width and ideographic
 *	  dots); this is the name Postfix looks up in DNS for such mail;
 *	- ASCII is lower-cased and otherwise kept as written: an ASCII name
 *	  (A-labels included) is what DNS resolves, so it is compared as is;
 *	- an address literal "[192.0.2.1]" is lower-cased and keeps its
 *	  brackets.
 *
 *	pn_domain_normalise_n() does the same for the first len bytes.
 *
 *	The result is allocated with pn_malloc() (free with pn_free()).
 *	Both functions are reentrant.
 * DIAGNOSTICS
 *	NULL when the input is not a domain name in any form: empty, ".",
 *	an empty label ("a..b", ".a"), a byte other than letters, digits,
 *	"-" and "_" (before or after IDNA mapping: "\xef\xbb\xbf#" maps to
 *	"#", which is no host name), invalid UTF-8, or a U-label that IDNA
 *	2008 / UTS #46 refuses. A
 *	caller applying a policy treats NULL as "unknown domain" (the "*"
 *	rule or a temporary failure), never as "no policy"; a caller loading
 *	a table reports it as an error naming file:line.
 */
#ifndef PN_DOMAIN_H
#define PN_DOMAIN_H

#include <stddef.h>

char *pn_domain_normalise(const char *domain);
char *pn_domain_normalise_n(const char *domain, size_t len);

#endif
