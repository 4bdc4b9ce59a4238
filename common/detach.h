/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	detach - leave the terminal, as every Postern daemon does without -f
 * SYNOPSIS
 *	#include "common/detach.h"
 *
 *	int pn_detach(void);
 * DESCRIPTION
 *	pn_detach() forks (the parent exits at once with status 0), starts
 *	a new session, changes to / and points stdin, stdout and stderr at
 *	/dev/null, so the daemon outlives the shell that started it and
 *	holds no mount point busy. Call it after everything that can fail
 *	with a message for the administrator's terminal, before the pidfile
 *	is written (the pid changes).
 * DIAGNOSTICS
 *	0 in the child, -1 when fork or chdir failed (errno set).
 */
#ifndef PN_DETACH_H
#define PN_DETACH_H

int pn_detach(void);

#endif
