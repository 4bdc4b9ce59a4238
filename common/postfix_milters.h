/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	postfix_milters - which milters Postfix's configuration names, and
 *	which of their sockets are missing
 * SYNOPSIS
 *	#include "common/postfix_milters.h"
 *
 *	typedef void (*pn_milter_fn)(void *ctx, const char *spec, size_t len);
 *	void pn_postfix_milter_list(const char *value, pn_milter_fn fn, void *ctx);
 *
 *	int pn_postfix_check_milters(const char *config_dir, FILE *out);
char *pn_postconf(const char *config_dir, const char *a1, const char *a2);
 *	char *pn_postconf(const char *config_dir, const char *a1, const char *a2);
 * DESCRIPTION
 *	Removing a milter's package while main.cf still names its socket
 *	makes Postfix defer every message (default_action=tempfail) or skip
 *	the filter (accept): the administrator should hear it before mail
 *	waits.
 *
 *	pn_postfix_milter_list() splits a smtpd_milters / non_smtpd_milters
 *	value as Postfix does: milters separated by white space or commas,
 *	each either a socket ("unix:/path", "inet:host:port", or a bare
 *	path) or a braced group "{ socket, name=value ... }" whose first
 *	element is the socket. fn receives each socket (not NUL-terminated).
 *
 *	pn_postfix_check_milters() asks Postfix (`postconf -c config_dir -hx`,
 *	`-Px`, `-M`; config_dir NULL for the default) for smtpd_milters,
 *	non_smtpd_milters and every master.cf service override of them, and
 *	for each unix: socket checks that a process accepts connections on
 *	it, where Postfix would look: inside queue_directory when the
 *	service that uses it (smtpd, or cleanup for non_smtpd_milters) is
 *	chrooted, else as written. It prints one line per problem to out,
 *	naming the parameter, the socket and what was found (no such file,
 *	not a socket, nobody listening), and the fix: start the daemon or
 *	delete the milter from that parameter. inet: sockets are listed as
 *	not checked.
 *
 *	pn_postconf() runs `postconf [-c config_dir] a1 [a2]` (config_dir
 *	NULL for the default) and returns its standard output (pn_free), or
 *	NULL when postconf cannot be run or fails.
 * DIAGNOSTICS
 *	pn_postfix_check_milters() returns the number of problems, or -1 when
 *	postconf cannot be run (a message is printed to out).
 */
#ifndef PN_POSTFIX_MILTERS_H
#define PN_POSTFIX_MILTERS_H

#include <stddef.h>
#include <stdio.h>

typedef void (*pn_milter_fn)(void *ctx, const char *spec, size_t len);

void pn_postfix_milter_list(const char *value, pn_milter_fn fn, void *ctx);
int pn_postfix_check_milters(const char *config_dir, FILE *out);
char *pn_postconf(const char *config_dir, const char *a1, const char *a2);

#endif
