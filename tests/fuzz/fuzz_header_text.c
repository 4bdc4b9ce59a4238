/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_header_text - libFuzzer target: pn_header_display
 *
 * Whatever the bytes, both kinds of display form are valid UTF-8 without
 * NUL, on one line, and start and end with neither space nor tab.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/header_text.h"
#include "common/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort unless s is a proper display form */
static void check(const char *s, const char *kind)
{
	size_t n = strlen(s);

	if (!pn_utf8_valid(s, n) || strchr(s, '\r') || strchr(s, '\n') ||
	    (n > 0 && (strchr(" \t", s[0]) || strchr(" \t", s[n - 1])))) {
		fprintf(stderr, "fuzz_header_text: bad %s display form \"%s\"\n", kind, s);
		abort();
	}
}

/* LLVMFuzzerTestOneInput - display one value as text and as an identifier */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	s = pn_header_display((const char *)data, size, PN_HEADER_TEXT);
	check(s, "text");
	pn_free(s);
	s = pn_header_display((const char *)data, size, PN_HEADER_ID);
	check(s, "identifier");
	pn_free(s);
	return 0;
}
