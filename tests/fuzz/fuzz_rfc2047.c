/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_rfc2047 - libFuzzer target: encoded-words and UTF-8 repair
 *
 * Every result must be valid UTF-8; sanitizing valid UTF-8 must not
 * change it; pn_utf8_sanitize_len() must match. The first input byte
 * also picks a charset to convert the rest from.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort unless s is valid UTF-8 */
static void check(const char *what, const char *s)
{
	if (!pn_utf8_valid(s, strlen(s))) {
		fprintf(stderr, "fuzz_rfc2047: %s is not valid UTF-8\n", what);
		abort();
	}
}

/* LLVMFuzzerTestOneInput - decode, sanitize and convert one input */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const charsets[] = {
		"utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis",
		"gb2312", "euc-kr", "iso-2022-jp", "utf-16", "utf-7", "big5", "x-unknown",
	};
	char *s;

	s = pn_rfc2047_decode((const char *)data, size);
	check("decode", s);
	pn_free(s);

	s = pn_utf8_sanitize(data, size);
	check("sanitize", s);
	if (strlen(s) != pn_utf8_sanitize_len(data, size)) {
		fprintf(stderr, "fuzz_rfc2047: sanitize_len disagrees\n");
		abort();
	}
	if (pn_utf8_valid(data, size) && (strlen(s) != size || memcmp(s, data, size) != 0)) {
		fprintf(stderr, "fuzz_rfc2047: sanitize changed valid UTF-8\n");
		abort();
	}
	pn_free(s);

	if (size > 0) {
		const char *cs = charsets[data[0] % (sizeof(charsets) / sizeof(charsets[0]))];

		s = pn_charset_to_utf8(cs, data + 1, size - 1);
		if (s) {
			check(cs, s);
			pn_free(s);
		}
		s = pn_charset_to_utf8_prefix(cs, data + 1, size - 1);
		if (s) {
			check(cs, s);
			pn_free(s);
		}
	}
	return 0;
}
