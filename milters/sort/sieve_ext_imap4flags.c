/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_imap4flags - imap4flags (RFC 5232): setflag, addflag, removeflag, hasflag and :flags
 *
 * Not implemented yet: the validation refuses its commands and tests.
 */
#include "milters/sort/sieve_int.h"

int sv_flags_check(sv_parser *P, sv_node *n)
{
	return sv_perr(P, n->line, n->col, "\"%s\" is not implemented yet", n->name);
}

int sv_flags_run(sv_ctx *c, const sv_node *n)
{
	return sv_rt_error(c, "\"%s\" is not implemented yet", n->name);
}

int sv_flags_tag(sv_parser *P, sv_node *n, size_t *i)
{
	(void)P;
	(void)n;
	(void)i;
	return 0;
}
