/* SPDX-License-Identifier: BSD-2-Clause */
/* codec - digit values for hex and base64 decoders (see codec.h) */
#include "common/codec.h"

/* pn_hex_value - value of a hex digit or -1 */
int pn_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* pn_base64_value - value of a base64 character or -1 */
int pn_base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}
