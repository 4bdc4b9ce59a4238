/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netstring - bounded netstring reader and writer (see netstring.h)
 */
#include "common/netstring.h"

#include <stdio.h>

/* digits - how many decimal digits n has */
static size_t digits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* pn_netstring_parse - one whole netstring at the start of buf, if any */
int pn_netstring_parse(const char *buf, size_t len, size_t max, const char **payload,
		       size_t *payload_len, size_t *consumed, const char **why)
{
	size_t i, n = 0, width = digits(max);

	*why = NULL;
	for (i = 0; i < len && buf[i] != ':'; i++) {
		if (buf[i] < '0' || buf[i] > '9') {
			*why = "netstring length is not a decimal number";
			return -1;
		}
		if (i == 1 && buf[0] == '0') {
			*why = "netstring length has a leading zero";
			return -1;
		}
		if (i + 1 > width) {
			*why = "netstring longer than allowed";
			return -1;
		}
		n = n * 10 + (size_t)(buf[i] - '0');	/* width bounds n: no overflow */
	}
	if (i == len)
		return 0;
	if (i == 0) {
		*why = "netstring without a length";
		return -1;
	}
	if (n > max) {
		*why = "netstring longer than allowed";
		return -1;
	}
	/* i is the ':'; the payload follows, then ',' */
	if (len - i - 1 < n + 1)
		return 0;
	if (buf[i + 1 + n] != ',') {
		*why = "netstring payload not followed by \",\"";
		return -1;
	}
	*payload = buf + i + 1;
	*payload_len = n;
	*consumed = i + 1 + n + 1;
	return 1;
}

/* pn_netstring_put - append data as "LEN:data," */
int pn_netstring_put(pn_buf *out, const void *data, size_t len)
{
	char head[32];
	size_t before = pn_buf_len(out);
	int n = snprintf(head, sizeof(head), "%zu:", len);

	if (pn_buf_append(out, head, (size_t)n) < 0)
		return -1;
	if (pn_buf_append(out, data, len) < 0 || pn_buf_putc(out, ',') < 0) {
		/* leave out as it was: no half netstring */
		out->len = before;
		out->data[before] = '\0';
		return -1;
	}
	return 0;
}
