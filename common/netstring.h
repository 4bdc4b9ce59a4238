/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	netstring - bounded netstring reader and writer (Postfix socketmap framing)
 * SYNOPSIS
 *	#include "common/netstring.h"
 *
 *	int pn_netstring_parse(const char *buf, size_t len, size_t max,
 *	                       const char **payload, size_t *payload_len,
 *	                       size_t *consumed, const char **why);
 *	int pn_netstring_put(pn_buf *out, const void *data, size_t len);
 * DESCRIPTION
 *	A netstring (D. J. Bernstein; Postfix's netstring(3)) is
 *	"LENGTH:PAYLOAD," with LENGTH in decimal ASCII. Postfix's socketmap
 *	client frames every request and reply this way.
 *
 *	pn_netstring_parse() looks at the bytes received so far, buf[0..len),
 *	and answers 1 when they start with one whole netstring: *payload
 *	points at its payload inside buf (not NUL-terminated; it may hold any
 *	byte), *payload_len is its length and *consumed the bytes the whole
 *	netstring took, so the caller can drop them and parse the next one
 *	(Postfix sends several requests on one connection). It answers 0 when
 *	more bytes are needed, and -1 with *why (a static text) for bytes
 *	that can never become a valid netstring of at most max payload bytes:
 *	an empty or non-digit length, a leading zero ("01:"), more digits
 *	than max needs, a length above max, or a payload not followed by
 *	",". The verdict comes from the length prefix alone, before any
 *	payload byte is read, so a peer announcing a huge payload is refused
 *	at once and never makes the caller buffer more than max + 12 bytes.
 *
 *	pn_netstring_put() appends data framed as a netstring to out.
 * DIAGNOSTICS
 *	pn_netstring_put() returns 0, or -1 when out would exceed its limit
 *	(out is then unchanged).
 */
#ifndef PN_NETSTRING_H
#define PN_NETSTRING_H

#include <stddef.h>

#include "common/buf.h"

/* Bytes a netstring adds to its payload at most: 20 digits, ':' and ','. */
#define PN_NETSTRING_OVERHEAD 22

int pn_netstring_parse(const char *buf, size_t len, size_t max, const char **payload,
		       size_t *payload_len, size_t *consumed, const char **why);
int pn_netstring_put(pn_buf *out, const void *data, size_t len);

#endif
