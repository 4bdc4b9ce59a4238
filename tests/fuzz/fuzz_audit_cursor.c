/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_audit_cursor - the cursor file of `postern-audit tail`: any bytes
 * through audit_cursor_parse(). No crash; what it accepts is a seq of at
 * least 1 and 64 lower-case hex digits, and printing that back as the
 * cursor file would be written parses to the same cursor. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "milters/audit/tail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	audit_cursor c, again;
	char text[96];
	int n;

	if (audit_cursor_parse((const char *)data, size, &c) < 0)
		return 0;
	if (c.seq < 1 || strlen(c.hash) != 64 || strspn(c.hash, "0123456789abcdef") != 64)
		__builtin_trap();
	n = snprintf(text, sizeof(text), "%llu:%s\n", c.seq, c.hash);
	if (audit_cursor_parse(text, (size_t)n, &again) < 0 || again.seq != c.seq
	    || strcmp(again.hash, c.hash) != 0)
		__builtin_trap();
	return 0;
}
