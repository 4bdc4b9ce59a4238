/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	privs - root's tools work on a daemon's data with the daemon's rights
 * SYNOPSIS
 *	#include "common/privs.h"
 *
 *	int  pn_privs_become(uid_t uid, gid_t gid);
 *	int  pn_privs_switched(void);
 *	int  pn_privs_invoker_begin(void);
 *	void pn_privs_invoker_end(void);
 * DESCRIPTION
 *	A daemon's data directory belongs to the daemon's user, so whoever
 *	holds that user can plant links there. A tool started as root must
 *	therefore touch that data with the daemon user's rights, as Postfix's
 *	tools take the mail owner's (set_eugid): then root's rights never
 *	reach a name the daemon's user controls.
 *
 *	pn_privs_become() switches the effective uid and gid, and the
 *	supplementary groups, of a process running as root to uid:gid. The
 *	real and saved uid stay 0, so the process is not dumpable and the
 *	daemon's user can neither signal nor trace it; and getuid() still
 *	names the administrator for access logs. It does nothing (and
 *	returns 0) when the effective uid is not 0.
 *
 *	pn_privs_invoker_begin() takes root's rights back for a file the
 *	administrator named (a private key to read, an access log to
 *	append); pn_privs_invoker_end() gives them up again. Keep the pair
 *	around one open() of such a file, never around data of the daemon.
 *	Outside a switch both do nothing. pn_privs_switched() tells whether
 *	pn_privs_become() switched.
 * DIAGNOSTICS
 *	0, or -1 with errno set. pn_privs_invoker_end() aborts the process
 *	when it cannot give root's rights up again: continuing would run
 *	the rest as root.
 */
#ifndef PN_PRIVS_H
#define PN_PRIVS_H

#include <sys/types.h>

int pn_privs_become(uid_t uid, gid_t gid);
int pn_privs_switched(void);
int pn_privs_invoker_begin(void);
void pn_privs_invoker_end(void);

#endif
