/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	buf - growable byte strings that know their length and their limit
 * SYNOPSIS
 *	#include "common/buf.h"
 *
 *	pn_buf b;
 *	pn_buf_init(&b, max);          max 0 = PN_BUF_DEFAULT_MAX
 *	int pn_buf_append(pn_buf *b, const void *data, size_t len);
 *	int pn_buf_puts(pn_buf *b, const char *s);
 *	int pn_buf_putc(pn_buf *b, int c);
 *	int pn_buf_printf(pn_buf *b, const char *fmt, ...);
 *	const char *pn_buf_str(const pn_buf *b);   always NUL-terminated
 *	size_t pn_buf_len(const pn_buf *b);
 *	void pn_buf_reset(pn_buf *b);               keep storage, length 0
 *	char *pn_buf_steal(pn_buf *b, size_t *len); caller frees; b is reset
 *	void pn_buf_free(pn_buf *b);
 * DESCRIPTION
 *	A pn_buf holds arbitrary bytes (NULs allowed) followed by a NUL so
 *	the contents can be used as a C string when they hold text. Every
 *	buffer declares the largest size it may reach, so input from the
 *	network can never grow one without bound.
 * DIAGNOSTICS
 *	The append functions return 0, or -1 when the result would exceed
 *	the buffer's maximum; the buffer is then left unchanged.
 */
#ifndef PN_BUF_H
#define PN_BUF_H

#include <stddef.h>

#define PN_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

typedef struct pn_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
} pn_buf;

void pn_buf_init(pn_buf *b, size_t max);
int pn_buf_append(pn_buf *b, const void *data, size_t len);
int pn_buf_puts(pn_buf *b, const char *s);
int pn_buf_putc(pn_buf *b, int c);
int pn_buf_printf(pn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *pn_buf_str(const pn_buf *b);
size_t pn_buf_len(const pn_buf *b);
void pn_buf_reset(pn_buf *b);
char *pn_buf_steal(pn_buf *b, size_t *len);
void pn_buf_free(pn_buf *b);

#endif
