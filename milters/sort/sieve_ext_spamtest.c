/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_spamtest - spamtest, spamtestplus and virustest (RFC 5235): scores from an earlier filter's headers
 *
 * Not implemented yet: the validation refuses its commands and tests.
 */
#include "milters/sort/sieve_int.h"

int sv_spamtest_tag(sv_parser *P, sv_node *n, size_t *i)
{
	(void)P;
	(void)n;
	(void)i;
	return 0;
}

int sv_spamtest_check(sv_parser *P, sv_node *n)
{
	return sv_perr(P, n->line, n->col, "\"%s\" is not implemented yet", n->name);
}

int sv_spamtest_run(sv_ctx *c, const sv_node *n)
{
	return sv_rt_error(c, "\"%s\" is not implemented yet", n->name);
}
