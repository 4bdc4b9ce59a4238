/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	esc - HTML escaping of untrusted text
 * DESCRIPTION
 *	See esc.h. One pass, no allocation beyond the output buffer.
 */
#include "milters/web/esc.h"

#include <string.h>

#include "milters/web/web.h"

/* Length of the valid UTF-8 sequence (RFC 3629) at s, or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;	/* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80
		    || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;	/* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;	/* above U+10FFFF */
		return 4;
	}
	return 0;
}

void web_esc_n(pn_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, k;

	if (s == NULL)
		return;
	/* Copy runs of harmless bytes in one append; stop at anything else. */
	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && c != '"'
		    && c != '\'') {
			run++;
			i++;
			continue;
		}
		if (c >= 0x80 && (k = utf8_seq(p + i, n - i)) > 0) {
			if (c == 0xc2 && p[i + 1] < 0xa0) {
				/* C1 control (U+0080..U+009F), e.g. NEL: dropped like C0 */
				if (run && pn_buf_append(b, p + i - run, run) < 0)
					return;
				run = 0;
				i += k;
				continue;
			}
			run += k;
			i += k;
			continue;
		}
		if (run && pn_buf_append(b, p + i - run, run) < 0)
			return;
		run = 0;
		switch (c) {
		case '&':
			pn_buf_puts(b, "&amp;");
			break;
		case '<':
			pn_buf_puts(b, "&lt;");
			break;
		case '>':
			pn_buf_puts(b, "&gt;");
			break;
		case '"':
			pn_buf_puts(b, "&quot;");
			break;
		case '\'':
			pn_buf_puts(b, "&#39;");
			break;
		case '\t':
		case '\n':
			pn_buf_putc(b, c);
			break;
		default:
			if (c >= 0x80)
				pn_buf_puts(b, "\xef\xbf\xbd");	/* U+FFFD */
			/* other control characters: dropped */
			break;
		}
		i++;
	}
	if (run)
		pn_buf_append(b, p + i - run, run);
}

void web_esc(pn_buf *b, const char *s)
{
	if (s != NULL)
		web_esc_n(b, s, strlen(s));
}
