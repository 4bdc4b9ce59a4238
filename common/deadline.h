/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	deadline - the absolute time a timed wait ends
 * SYNOPSIS
 *	#include "common/deadline.h"
 *
 *	struct timespec pn_deadline_after_ms(clockid_t clock, long long ms);
 * DESCRIPTION
 *	pn_deadline_after_ms() is the time ms milliseconds from now on clock,
 *	normalised (tv_nsec below one second), as pthread_cond_timedwait()
 *	wants it: CLOCK_REALTIME for a default condition, CLOCK_MONOTONIC for
 *	one made with pthread_condattr_setclock(). A negative ms is now.
 */
#ifndef PN_DEADLINE_H
#define PN_DEADLINE_H

#include <time.h>

struct timespec pn_deadline_after_ms(clockid_t clock, long long ms);

#endif
