/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_vacation - vacation (RFC 5230) and vacation-seconds (RFC 6131)
 *
 * Not implemented yet: the validation refuses its commands and tests.
 */
#include "milters/sort/sieve_int.h"

int sv_vacation_tag(sv_parser *P, sv_node *n, size_t *i)
{
	(void)P;
	(void)n;
	(void)i;
	return 0;
}

int sv_vacation_check(sv_parser *P, sv_node *n)
{
	return sv_perr(P, n->line, n->col, "\"%s\" is not implemented yet", n->name);
}

int sv_vacation_run(sv_ctx *c, const sv_node *n)
{
	return sv_rt_error(c, "\"%s\" is not implemented yet", n->name);
}

void sv_send_print(FILE *out, const sv_action *a)
{
	fputs(a->type == SV_ACT_VACATION ? "vacation" : "notify", out);
}

void sv_send_free(struct sv_send *s)
{
	(void)s;
}
