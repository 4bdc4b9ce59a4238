/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	ratelimit - failed logins counted per key in a table of fixed size
 * SYNOPSIS
 *	#include "milters/web/ratelimit.h"
 *
 *	web_limiter *web_limiter_new(size_t slots, unsigned limit, long window);
 *	void web_limiter_free(web_limiter *l);
 *	int  web_limiter_blocked(web_limiter *l, const char *key, long long now);
 *	void web_limiter_fail(web_limiter *l, const char *key, long long now);
 *	void web_limiter_clear(web_limiter *l, const char *key);
 *	size_t web_limiter_used(web_limiter *l);
 * DESCRIPTION
 *	postern-web keeps two limiters: one keyed by client address, one by
 *	user name. A key with limit failures within window seconds (counted
 *	from its first failure) is blocked until that window ends; a
 *	successful login clears its name's count. The table holds at most
 *	slots keys, whatever arrives: a new key takes a free slot, else one
 *	whose window has ended, else the one whose window started first
 *	(the oldest evidence) — so a flood of random names or addresses
 *	costs no memory, and the address limiter, a table of its own, is
 *	not emptied by a flood of names. Keys longer than 127 bytes are
 *	cut. The table is locked.
 * DIAGNOSTICS
 *	web_limiter_blocked() returns 1 (refuse) or 0.
 */
#ifndef WEB_RATELIMIT_H
#define WEB_RATELIMIT_H

#include <stddef.h>

typedef struct web_limiter web_limiter;

web_limiter *web_limiter_new(size_t slots, unsigned limit, long window);
void web_limiter_free(web_limiter *l);
int web_limiter_blocked(web_limiter *l, const char *key, long long now);
void web_limiter_fail(web_limiter *l, const char *key, long long now);
void web_limiter_clear(web_limiter *l, const char *key);
size_t web_limiter_used(web_limiter *l);

#endif
