/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_duplicate - duplicate (RFC 7352): the duplicate test over the engine's response store
 *
 * Not implemented yet: the validation refuses its commands and tests.
 */
#include "milters/sort/sieve_int.h"

int sv_duplicate_tag(sv_parser *P, sv_node *n, size_t *i)
{
	(void)P;
	(void)n;
	(void)i;
	return 0;
}

int sv_duplicate_check(sv_parser *P, sv_node *n)
{
	return sv_perr(P, n->line, n->col, "\"%s\" is not implemented yet", n->name);
}

int sv_duplicate_run(sv_ctx *c, const sv_node *n)
{
	return sv_rt_error(c, "\"%s\" is not implemented yet", n->name);
}
