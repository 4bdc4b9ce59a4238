/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_imap4flags - imap4flags (RFC 5232): setflag, addflag, removeflag, hasflag and :flags
 *
 *	setflag | addflag | removeflag [VARIABLE] FLAGS
 *	hasflag [COMPARATOR] [MATCH-TYPE] [VARIABLES] FLAGS
 *	keep :flags FLAGS;  fileinto :flags FLAGS "F";
 *
 * A flag set is a string of flags separated by one space: each string of
 * a list may hold several flags, a flag is there once (IMAP flags are
 * compared without regard to case: the first spelling stays), system
 * flags are written as RFC 3501 spells them (\Seen, \Answered, \Flagged,
 * \Deleted, \Draft), and what is not a valid IMAP flag (an unknown
 * system flag, a keyword with a character IMAP does not allow in an atom
 * or with 8-bit bytes) is dropped, as Pigeonhole drops it: only valid
 * flags can reach the header the delivery agent reads.
 *
 * Without VARIABLE the commands work on the internal variable of the
 * script run (sv_ctx.flags), which keep and fileinto without :flags use
 * and which the implicit keep gets when the run ends (sv_result
 * keep_flags; the last script of a chain that requires imap4flags sets
 * it). A second keep (or fileinto into the same folder) replaces the
 * flags of the first, as in Pigeonhole. hasflag splits both the values
 * and the keys into flags; :count counts the flags.
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <string.h>
#include <strings.h>

/* the longest flag set kept (each flag is at most a line of the header) */
#define MAX_FLAGSET 4096

static const char *const system_flags[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", NULL
};

/* flag_valid - the flag (a system flag as RFC 3501 spells it when canonical),
 * or NULL when it is not an IMAP flag */
static const char *flag_valid(const char *f, size_t len, int canonical)
{
	size_t i;

	if (len == 0 || len > 200)
		return NULL;
	if (f[0] == '\\') {
		for (i = 0; system_flags[i]; i++)
			if (strlen(system_flags[i]) == len && strncasecmp(system_flags[i], f, len) == 0)
				return canonical ? system_flags[i] : f;
		return NULL;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)f[i];
		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch))
			return NULL;
	}
	return f;
}

/* set_has - whether set holds flag (any case) */
static int set_has(const char *set, const char *f, size_t len)
{
	const char *p = set;

	while (p && *p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == len && strncasecmp(p, f, len) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* set_add - the flags of text (space separated) added to the set in b;
 * system flags in their canonical spelling when canonical */
static void set_add_as(pn_buf *b, const char *text, size_t tlen, int canonical)
{
	const char *p = text, *end = text + tlen;

	while (p < end) {
		const char *e = p, *f;
		size_t n;

		while (e < end && *e != ' ')
			e++;
		n = (size_t)(e - p);
		f = flag_valid(p, n, canonical);
		if (f && !set_has(pn_buf_str(b), f, n)
		    && pn_buf_len(b) + n + 1 <= MAX_FLAGSET) {
			if (pn_buf_len(b) > 0)
				pn_buf_putc(b, ' ');
			pn_buf_append(b, f, n);
		}
		p = e + 1;
	}
}

/* set_add - flags added as the script spelled them (variables keep that) */
static void set_add(pn_buf *b, const char *text, size_t tlen)
{
	set_add_as(b, text, tlen, 0);
}

/* canonical_set - the flags an action carries: each once, system flags as
 * RFC 3501 spells them */
static char *canonical_set(const char *set)
{
	pn_buf b;

	pn_buf_init(&b, MAX_FLAGSET + 1);
	set_add_as(&b, set, strlen(set), 1);
	return pn_buf_steal(&b, NULL);
}

/* list_set - the flag set of a string list, expanded */
static char *list_set(sv_ctx *c, const sv_strlist *l)
{
	pn_buf b;
	size_t i, len;

	pn_buf_init(&b, MAX_FLAGSET + 1);
	for (i = 0; i < l->n; i++) {
		const char *s = sv_expand(c, &l->v[i], &len);
		if (s == NULL) {
			pn_buf_free(&b);
			return NULL;
		}
		set_add(&b, s, len);
	}
	return pn_buf_steal(&b, NULL);
}

/* sv_flags_tag - :flags on keep and fileinto */
int sv_flags_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;

	if (strcmp(a->tag, "flags") != 0)
		return 0;
	if (sv_need_cap(P, a->line, a->col, SV_CAP_IMAP4FLAGS, "tag \":flags\"") < 0)
		return -1;
	if (n->flags)
		return sv_perr(P, a->line, a->col, "tag \":flags\" given twice");
	if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a list of flags")) == NULL)
		return -1;
	n->flags = &v->list;
	return 1;
}

/* sv_flags_check - [variable] flags: pos[0] the variables (or NULL), pos[1] the flags */
int sv_flags_check(sv_parser *P, sv_node *n)
{
	size_t i;

	if (n->pos[1] == NULL) {
		n->pos[1] = n->pos[0];
		n->pos[0] = NULL;
		return 0;
	}
	if (n->op != SV_OP_HASFLAG && n->pos[0]->n != 1)
		return sv_perr(P, n->pos[0]->line, n->pos[0]->col, "%s takes one variable name, "
			    "not a list", n->name);
	for (i = 0; i < n->pos[0]->n; i++) {
		const sv_string *s = &n->pos[0]->v[i];
		if (sv_need_cap(P, s->line, s->col, SV_CAP_VARIABLES, "a variable name") < 0)
			return -1;
		if (!sv_var_name_valid(s->s, s->len))
			return sv_perr(P, s->line, s->col, "invalid variable name \"%s\"", s->s);
	}
	return 0;
}

/* var_value - a variable's value ("" when unset), or the internal variable */
static const char *var_value(sv_ctx *c, const sv_string *name, size_t *len)
{
	sv_var *v;

	if (name == NULL) {
		*len = c->flags ? strlen(c->flags) : 0;
		return c->flags ? c->flags : "";
	}
	v = sv_find_var(c, name->s, name->len);
	*len = v ? v->len : 0;
	return v ? v->val : "";
}

/* set_var - store a flag set into the variable (taking it), or the internal one */
static int set_var(sv_ctx *c, const sv_string *name, char *set)
{
	if (name == NULL) {
		pn_free(c->flags);
		c->flags = set;
		return SV_EXEC_OK;
	}
	return sv_set_var(c, name->s, name->len, set, strlen(set));
}

/* remove_flags - the set without the flags of other */
static char *remove_flags(const char *set, const char *other)
{
	pn_buf b;
	const char *p = set;

	pn_buf_init(&b, MAX_FLAGSET + 1);
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0 && !set_has(other, p, n)) {
			if (pn_buf_len(&b) > 0)
				pn_buf_putc(&b, ' ');
			pn_buf_append(&b, p, n);
		}
		p = e ? e + 1 : p + n;
	}
	return pn_buf_steal(&b, NULL);
}

/* hasflag - any flag of the variables against any of the keys */
static int hasflag(sv_ctx *c, const sv_node *n, const char *keys)
{
	sv_vals vals, kv;
	sv_strlist kl;
	sv_string *ks;
	size_t i, nvars = n->pos[0] ? n->pos[0]->n : 1, kcount = 0;
	const char *p;
	int rc;

	memset(&vals, 0, sizeof(vals));
	for (i = 0; i < nvars; i++) {
		size_t len;
		const char *v = var_value(c, n->pos[0] ? &n->pos[0]->v[i] : NULL, &len);
		pn_buf b;
		char *set;

		pn_buf_init(&b, MAX_FLAGSET + 1);
		set_add(&b, v, len);
		set = pn_buf_steal(&b, NULL);
		for (p = set; *p;) {
			const char *e = strchr(p, ' ');
			size_t fl = e ? (size_t)(e - p) : strlen(p);
			sv_vals_add(&vals, p, fl);
			p += fl + (e != NULL);
		}
		pn_free(set);
	}
	if (n->m.match == SV_MATCH_REGEX || n->m.match == SV_MATCH_COUNT) {
		/* a regular expression (compiled once) or a count: as written */
		rc = sv_match_values(c, n, &vals, n->pos[1]);
		sv_vals_free(&vals);
		return rc;
	}
	/* the keys, one flag each (not validated: a key is a pattern) */
	memset(&kv, 0, sizeof(kv));
	for (p = keys; *p;) {
		const char *e = strchr(p, ' ');
		size_t fl = e ? (size_t)(e - p) : strlen(p);
		if (fl > 0) {
			sv_vals_add(&kv, p, fl);
			kcount++;
		}
		p += fl + (e != NULL);
	}
	ks = pn_calloc(kcount + 1, sizeof(*ks));
	for (i = 0; i < kcount; i++) {
		ks[i].s = (char *)kv.v[i];
		ks[i].len = kv.len[i];
	}
	kl.v = ks;
	kl.n = kcount;
	kl.line = n->line;
	kl.col = n->col;
	rc = sv_match_values(c, n, &vals, &kl);
	pn_free(ks);
	sv_vals_free(&kv);
	sv_vals_free(&vals);
	return rc;
}

/* keys_text - the hasflag keys, expanded, joined by spaces */
static char *keys_text(sv_ctx *c, const sv_strlist *l)
{
	pn_buf b;
	size_t i, len;

	pn_buf_init(&b, 0);
	for (i = 0; i < l->n; i++) {
		const char *s = sv_expand(c, &l->v[i], &len);
		if (s == NULL) {
			pn_buf_free(&b);
			return NULL;
		}
		if (i > 0)
			pn_buf_putc(&b, ' ');
		pn_buf_append(&b, s, len);
	}
	return pn_buf_steal(&b, NULL);
}

/* sv_flags_run - setflag, addflag, removeflag; hasflag */
int sv_flags_run(sv_ctx *c, const sv_node *n)
{
	const sv_string *var = n->pos[0] ? &n->pos[0]->v[0] : NULL;
	char *given, *now;
	size_t len;
	const char *old;
	pn_buf b;
	int rc;

	if (n->op == SV_OP_HASFLAG) {
		if ((given = keys_text(c, n->pos[1])) == NULL)
			return -1;
		rc = hasflag(c, n, given);
		pn_free(given);
		return rc;
	}
	if ((given = list_set(c, n->pos[1])) == NULL)
		return SV_EXEC_ERR;
	if (n->op == SV_OP_SETFLAG)
		return set_var(c, var, given);
	old = var_value(c, var, &len);
	if (n->op == SV_OP_ADDFLAG) {
		/* the variable as it was (Pigeonhole leaves its spacing and
		 * repetitions), then each new flag it does not hold */
		pn_buf_init(&b, len + MAX_FLAGSET + 1);
		pn_buf_append(&b, old, len);
		set_add(&b, given, strlen(given));
		now = pn_buf_steal(&b, NULL);
	} else {
		now = remove_flags(old, given);
	}
	pn_free(given);
	return set_var(c, var, now);
}

/* sv_flags_action - the flags of the keep or fileinto just executed */
int sv_flags_action(sv_ctx *c, const sv_node *n, sv_act_type type, const char *folder)
{
	sv_result *r = c->r;
	sv_action *a = NULL;
	size_t i;
	char *set;

	if (!(c->s->caps & SV_CAP_IMAP4FLAGS))
		return SV_EXEC_OK;
	if (type == SV_ACT_FILEINTO && strcasecmp(folder, "INBOX") == 0)
		type = SV_ACT_KEEP;
	for (i = r->nacts; i-- > 0;) {
		if (r->acts[i].type == type
		    && (type == SV_ACT_KEEP || strcmp(r->acts[i].arg, folder) == 0)) {
			a = &r->acts[i];
			break;
		}
	}
	if (a == NULL)
		return SV_EXEC_OK;
	if (n->flags) {
		char *given = list_set(c, n->flags);
		if (given == NULL)
			return SV_EXEC_ERR;
		set = canonical_set(given);
		pn_free(given);
	} else {
		set = canonical_set(c->flags ? c->flags : "");
	}
	pn_free(a->flags);
	a->flags = *set ? set : NULL;
	if (*set == '\0')
		pn_free(set);
	return SV_EXEC_OK;
}

/* sv_flags_finish - a run that succeeded: the implicit keep gets the internal flags */
void sv_flags_finish(sv_ctx *c)
{
	if (!(c->s->caps & SV_CAP_IMAP4FLAGS))
		return;
	pn_free(c->r->keep_flags);
	c->r->keep_flags = c->flags && *c->flags ? canonical_set(c->flags) : NULL;
	if (c->r->keep_flags && *c->r->keep_flags == '\0') {
		pn_free(c->r->keep_flags);
		c->r->keep_flags = NULL;
	}
}
