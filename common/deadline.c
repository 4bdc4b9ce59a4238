/* SPDX-License-Identifier: BSD-2-Clause */
/* deadline - the absolute time a timed wait ends (see deadline.h) */
#include "common/deadline.h"

/* pn_deadline_after_ms - now on clock plus ms */
struct timespec pn_deadline_after_ms(clockid_t clock, long long ms)
{
	struct timespec t;

	clock_gettime(clock, &t);
	if (ms < 0)
		ms = 0;
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}
