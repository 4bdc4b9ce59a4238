/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_text - libFuzzer target: pn_trim and pn_parse_mode
 *
 * A trimmed string starts and ends with neither space nor tab and is a
 * substring of the input; a mode is accepted only for one to four octal
 * digits worth at most 0777, with the value strtol gives.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - trim and parse one NUL-free input */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = pn_malloc(size + 1), *t;
	size_t n;
	mode_t mode;

	memcpy(s, data, size);
	s[size] = '\0';
	if (pn_parse_mode(s, &mode) == 0
	    && (mode > 0777 || strspn(s, "01234567") != strlen(s) || strtol(s, NULL, 8) != (long)mode)) {
		fprintf(stderr, "fuzz_text: \"%s\" accepted as %o\n", s, (unsigned)mode);
		abort();
	}
	t = pn_strdup(s);
	pn_trim(t);
	n = strlen(t);
	if ((n > 0 && (strchr(" \t", t[0]) || strchr(" \t", t[n - 1]))) || strstr(s, t) == NULL) {
		fprintf(stderr, "fuzz_text: trim of \"%s\" gave \"%s\"\n", s, t);
		abort();
	}
	pn_free(t);
	pn_free(s);
	return 0;
}
