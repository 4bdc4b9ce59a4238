/* SPDX-License-Identifier: BSD-2-Clause */
/* header_text - a header value as a person is shown it (see header_text.h) */
#include "common/header_text.h"
#include "common/alloc.h"
#include "common/rfc2047.h"
#include "common/text.h"

#include <string.h>

/* pn_header_display - unfolded, valid UTF-8, trimmed; text decoded */
char *pn_header_display(const char *value, size_t len, pn_header_kind kind)
{
	char *unfolded, *out;

	if (kind == PN_HEADER_TEXT)
		return pn_trim(pn_rfc2047_decode(value, len));
	/* Identifiers and dates are not text: unfold, never decode. */
	unfolded = pn_header_unfold(value, len);
	out = pn_utf8_sanitize(unfolded, strlen(unfolded));
	pn_free(unfolded);
	return pn_trim(out);
}
