/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	text - small edits and parsers of C strings shared by the daemons
 * SYNOPSIS
 *	#include "common/text.h"
 *
 *	char *pn_trim(char *s);
 *	int   pn_parse_mode(const char *s, mode_t *mode);
 * DESCRIPTION
 *	pn_trim() removes spaces and tabs at both ends of s, in place, and
 *	returns s (header values for the index and the audit record).
 *
 *	pn_parse_mode() reads an octal permission such as "0660" or "640"
 *	(socket_mode, the modes of the audit trail) into *mode.
 * DIAGNOSTICS
 *	pn_parse_mode() returns 0, or -1 for an empty string, a character
 *	that is no octal digit, or a value above 0777 (no set-id or sticky
 *	bits: a socket or a trail file never needs them).
 */
#ifndef PN_TEXT_H
#define PN_TEXT_H

#include <sys/types.h>

char *pn_trim(char *s);
int pn_parse_mode(const char *s, mode_t *mode);

#endif
