/* SPDX-License-Identifier: BSD-2-Clause */
/* alloc - allocation that never returns NULL (see alloc.h) */
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* out_of_memory - report and abort; there is no safe way to continue */
static void out_of_memory(size_t size)
{
	fprintf(stderr, "postern: panic: out of memory (%zu bytes)\n", size);
	syslog(LOG_MAIL | LOG_CRIT, "panic: out of memory (%zu bytes)", size);
	abort();
}

/* pn_malloc - malloc that never fails */
void *pn_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		out_of_memory(size);
	return p;
}

/* pn_calloc - zeroed allocation that never fails, with overflow check */
void *pn_calloc(size_t count, size_t size)
{
	void *p;

	if (count == 0 || size == 0)
		count = size = 1;
	p = calloc(count, size);
	if (p == NULL)
		out_of_memory(count * size);
	return p;
}

/* pn_realloc - realloc that never fails */
void *pn_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		out_of_memory(size);
	return p;
}

/* pn_strdup - copy a NUL-terminated string */
char *pn_strdup(const char *s)
{
	return pn_memdup0(s, strlen(s));
}

/* pn_strndup - copy at most len bytes of a string, always terminated */
char *pn_strndup(const char *s, size_t len)
{
	const char *end = memchr(s, '\0', len);
	return pn_memdup0(s, end ? (size_t)(end - s) : len);
}

/* pn_memdup0 - copy len bytes and add a terminating NUL */
char *pn_memdup0(const void *p, size_t len)
{
	char *copy;

	if (len == (size_t)-1)
		out_of_memory(len);
	copy = pn_malloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = '\0';
	return copy;
}

/* pn_asprintf - format into a newly allocated string */
char *pn_asprintf(const char *fmt, ...)
{
	va_list ap, ap2;
	int len;
	char *out;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		out_of_memory(0);
	out = pn_malloc((size_t)len + 1);
	vsnprintf(out, (size_t)len + 1, fmt, ap2);
	va_end(ap2);
	return out;
}

/* pn_free - free, accepting NULL */
void pn_free(void *ptr)
{
	free(ptr);
}
