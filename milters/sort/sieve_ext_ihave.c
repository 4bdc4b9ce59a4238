/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_ihave - ihave (RFC 5463): the ihave test and the error command
 *
 * Not implemented yet: the validation refuses its commands and tests.
 */
#include "milters/sort/sieve_int.h"

int sv_ihave_check(sv_parser *P, sv_node *n)
{
	return sv_perr(P, n->line, n->col, "\"%s\" is not implemented yet", n->name);
}

int sv_ihave_run(sv_ctx *c, const sv_node *n)
{
	return sv_rt_error(c, "\"%s\" is not implemented yet", n->name);
}
