/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	codec - digit values for hex and base64 decoders
 * SYNOPSIS
 *	#include "common/codec.h"
 *
 *	int pn_hex_value(unsigned char c);
 *	int pn_base64_value(unsigned char c);
 * DESCRIPTION
 *	The value of one hexadecimal digit (either case) or one character of
 *	the base64 alphabet (RFC 4648, "+" and "/"). Quoted-printable, RFC
 *	2047 encoded-words, RFC 2231 parameters, MIME bodies and Sieve's
 *	encoded-character all decode with these, so they live in one place.
 * DIAGNOSTICS
 *	-1 for a character outside the alphabet ("=" padding included).
 */
#ifndef PN_CODEC_H
#define PN_CODEC_H

int pn_hex_value(unsigned char c);
int pn_base64_value(unsigned char c);

#endif
