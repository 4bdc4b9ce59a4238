/* SPDX-License-Identifier: BSD-2-Clause */
/* buf - growable byte strings with a maximum size (see buf.h) */
#include "common/buf.h"
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* pn_buf_init - empty buffer that may grow to max bytes */
void pn_buf_init(pn_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : PN_BUF_DEFAULT_MAX;
}

/* reserve - make room for extra more bytes plus the NUL */
static int reserve(pn_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > b->max || b->len > b->max - extra)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	b->data = pn_realloc(b->data, cap);
	b->cap = cap;
	return 0;
}

/* pn_buf_append - add len bytes */
int pn_buf_append(pn_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* pn_buf_puts - add a C string */
int pn_buf_puts(pn_buf *b, const char *s)
{
	return pn_buf_append(b, s, strlen(s));
}

/* pn_buf_putc - add one byte */
int pn_buf_putc(pn_buf *b, int c)
{
	char ch = (char)c;
	return pn_buf_append(b, &ch, 1);
}

/* pn_buf_printf - add formatted text */
int pn_buf_printf(pn_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* pn_buf_str - contents as a C string ("" when empty) */
const char *pn_buf_str(const pn_buf *b)
{
	return b->data ? b->data : "";
}

/* pn_buf_len - number of bytes held */
size_t pn_buf_len(const pn_buf *b)
{
	return b->len;
}

/* pn_buf_reset - forget the contents, keep the storage */
void pn_buf_reset(pn_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* pn_buf_steal - hand the storage to the caller */
char *pn_buf_steal(pn_buf *b, size_t *len)
{
	char *out = b->data ? b->data : pn_strdup("");

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return out;
}

/* pn_buf_free - release the storage */
void pn_buf_free(pn_buf *b)
{
	pn_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
