/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	alloc - memory allocation that never returns NULL
 * SYNOPSIS
 *	#include "common/alloc.h"
 *
 *	void *pn_malloc(size_t size);
 *	void *pn_calloc(size_t count, size_t size);
 *	void *pn_realloc(void *ptr, size_t size);
 *	char *pn_strdup(const char *s);
 *	char *pn_strndup(const char *s, size_t len);
 *	char *pn_memdup0(const void *p, size_t len);
 *	char *pn_asprintf(const char *fmt, ...);
 *	void  pn_free(void *ptr);
 * DESCRIPTION
 *	Thin wrappers over the C library allocator. A daemon that serves
 *	mail cannot continue sensibly when memory is exhausted, and checking
 *	every call site invites forgotten checks, so these functions log a
 *	panic and abort() instead of returning NULL. Callers never test the
 *	result.
 *
 *	pn_memdup0() copies len bytes and appends a NUL (the copy may contain
 *	NUL bytes itself). pn_asprintf() formats into a new string.
 *	pn_free() accepts NULL.
 * DIAGNOSTICS
 *	Out of memory or size overflow: message on stderr and syslog, abort().
 */
#ifndef PN_ALLOC_H
#define PN_ALLOC_H

#include <stddef.h>

void *pn_malloc(size_t size);
void *pn_calloc(size_t count, size_t size);
void *pn_realloc(void *ptr, size_t size);
char *pn_strdup(const char *s);
char *pn_strndup(const char *s, size_t len);
char *pn_memdup0(const void *p, size_t len);
char *pn_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_free(void *ptr);

#endif
