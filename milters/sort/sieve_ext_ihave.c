/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_ihave - ihave (RFC 5463): the ihave test and the error command
 *
 * ihave is true when every capability it names is one postern-sort
 * supports. That is known when the script is compiled, so the check
 * stores the answer in the node and the run only returns it; the
 * capability strings are taken as written, never expanded (RFC 5463
 * section 4: the test must be decidable without running the script, and
 * Pigeonhole reads them the same way).
 *
 * The validator asks sv_ihave_block() about the block of an if or elsif
 * whose test is ihave: with every capability known the block is
 * validated as if they had been required; with one unknown the block is
 * not validated at all (it may use commands we have never heard of) and
 * never runs, because the test is false.
 *
 * error "message" ends the script with a run-time error that carries
 * the message (RFC 5463 section 5): its actions are dropped and the
 * implicit keep applies, as for any run-time error.
 */
#include "milters/sort/sieve_int.h"

/* all_known - whether each capability of the list is supported; the bits */
static int all_known(const sv_strlist *l, sv_caps *bits)
{
	size_t i;
	sv_caps c, acc = 0;

	for (i = 0; i < l->n; i++) {
		if ((c = sv_cap_lookup(l->v[i].s, l->v[i].len)) == 0)
			return 0;
		acc |= c;
	}
	*bits = acc;
	return 1;
}

/* sv_ihave_block - how to validate the block of "if TEST" */
int sv_ihave_block(const sv_node *test, sv_caps *add)
{
	sv_caps bits = 0;

	*add = 0;
	if (test->op != SV_OP_IHAVE || test->pos[0] == NULL)
		return 0;
	if (!all_known(test->pos[0], &bits))
		return -1;
	/* RFC 5235 3.2 and RFC 6131 2, as require does */
	if (bits & SV_CAP_SPAMTESTPLUS)
		bits |= SV_CAP_SPAMTEST;
	if (bits & SV_CAP_VACATION_SECONDS)
		bits |= SV_CAP_VACATION;
	*add = bits;
	return 1;
}

/* sv_ihave_check - ihave: decide now; error: nothing more to check */
int sv_ihave_check(sv_parser *P, sv_node *n)
{
	sv_caps bits;

	if (n->op == SV_OP_IHAVE) {
		if (n->pos[0]->n == 0)
			return sv_perr(P, n->line, n->col, "ihave needs at least one capability");
		n->number = (unsigned long long)all_known(n->pos[0], &bits);
	}
	return 0;
}

/* sv_ihave_run - ihave's answer, or the error command */
int sv_ihave_run(sv_ctx *c, const sv_node *n)
{
	size_t len;
	const char *msg;

	if (n->op == SV_OP_IHAVE)
		return n->number ? 1 : 0;
	msg = sv_expand(c, &n->pos[0]->v[0], &len);
	return sv_rt_error(c, "error: %.*s", (int)(len > 1000 ? 1000 : len), msg);
}
