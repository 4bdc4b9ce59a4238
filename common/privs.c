/* SPDX-License-Identifier: BSD-2-Clause */
/* privs - root's tools work on a daemon's data with the daemon's rights (see privs.h) */
#include "common/privs.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

/* LeakSanitizer checks at exit by tracing the process, which the kernel
 * refuses while the real uid (root) and the effective uid differ: a
 * sanitizer build takes root back at exit, after everything else, so that
 * the leak check of `make check-sanitize` still runs. Never in a release. */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVS_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PRIVS_LEAK_CHECK 1
#endif
#endif

static int switched;		/* pn_privs_become() changed the effective ids */
static int invoker;		/* inside pn_privs_invoker_begin/end */
static uid_t to_uid;
static gid_t to_gid;

/* become - effective ids to_uid:to_gid, group list first while still root */
static int become(void)
{
	if (setgroups(1, &to_gid) < 0 || setegid(to_gid) < 0 || seteuid(to_uid) < 0)
		return -1;
	return 0;
}

#ifdef PRIVS_LEAK_CHECK
/* root_for_leak_check - see PRIVS_LEAK_CHECK */
static void root_for_leak_check(void)
{
	if (seteuid(0) < 0 || setegid(0) < 0)
		return;
}
#endif

/* pn_privs_become - the daemon's user's rights, root kept in the saved uid */
int pn_privs_become(uid_t uid, gid_t gid)
{
	if (geteuid() != 0 || uid == 0)
		return 0;
	to_uid = uid;
	to_gid = gid;
	if (become() < 0)
		return -1;
#ifdef PRIVS_LEAK_CHECK
	if (!switched)
		atexit(root_for_leak_check);
#endif
	switched = 1;
	return 0;
}

/* pn_privs_switched - whether pn_privs_become() switched */
int pn_privs_switched(void)
{
	return switched;
}

/* pn_privs_invoker_begin - root's rights back for a file the administrator named */
int pn_privs_invoker_begin(void)
{
	if (!switched || invoker)
		return 0;
	if (seteuid(0) < 0 || setegid(0) < 0)
		return -1;
	invoker = 1;
	return 0;
}

/* pn_privs_invoker_end - the daemon's user's rights again */
void pn_privs_invoker_end(void)
{
	if (!invoker)
		return;
	invoker = 0;
	if (become() < 0)
		abort();	/* never go on as root by accident */
}
