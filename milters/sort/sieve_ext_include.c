/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_include - include (RFC 6609): include, return and global
 *
 * include asks the engine for a compiled script (sv_services.include:
 * :personal, the default, is the recipient's script directory, :global
 * the site's) and runs it inside the same run: the same result, the same
 * step budget, its own variables but for the global ones. return ends
 * the script that runs it; stop ends every script. :once skips a script
 * this run already included; :optional makes a missing script no error.
 *
 * The script is found at run time, so an include loop (a script that is
 * already running includes itself again) and nesting deeper than
 * max_include_depth are run-time errors that name the chain of scripts
 * (RFC 6609 3.2 lets either time report them; Pigeonhole refuses loops
 * at compile time). Then, as for every run-time error, the actions of
 * the whole run are dropped and the implicit keep applies.
 *
 * Global variables (the global command, or the "global." namespace) live
 * in one table of the run; a name the running script declared global is
 * looked up there (sv_var_is_global, used by sieve_run.c's variables).
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <string.h>
#include <strings.h>

/* longest script name (RFC 5804 leaves it to the server; Pigeonhole's
 * file storage uses the name as a file name) */
#define MAX_SCRIPT_NAME 255

/* what validation learned about one include command */
typedef struct include_ext {
	int global;		/* :global (else :personal) */
	int once, optional;
	int location_seen;
} include_ext;

/* ext_of - the node's include_ext, made on first use */
static include_ext *ext_of(sv_node *n)
{
	if (n->ext == NULL) {
		n->ext = pn_calloc(1, sizeof(include_ext));
		n->ext_free = pn_free;
	}
	return n->ext;
}

/* name_problem - why a script name cannot be used, or NULL: it becomes a
 * file name in a script directory, so no "/", no leading ".", no control
 * characters (RFC 5804 1.6) */
static const char *name_problem(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "empty script name";
	if (len > MAX_SCRIPT_NAME)
		return "script name longer than 255 bytes";
	if (s[0] == '.')
		return "script name starts with \".\"";
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '/')
			return "script name contains \"/\"";
		if (ch < 0x20 || ch == 0x7f)
			return "script name contains a control character";
	}
	return NULL;
}

/* sv_include_tag - :personal, :global, :once, :optional */
int sv_include_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i];
	include_ext *e;

	if (n->op != SV_OP_INCLUDE)
		return 0;
	e = ext_of(n);
	if (strcmp(a->tag, "personal") == 0 || strcmp(a->tag, "global") == 0) {
		if (e->location_seen++)
			return sv_perr(P, a->line, a->col, "include takes only one of :personal "
				       "and :global");
		e->global = a->tag[0] == 'g';
		return 1;
	}
	if (strcmp(a->tag, "once") == 0) {
		if (e->once++)
			return sv_perr(P, a->line, a->col, "tag \":once\" given twice");
		return 1;
	}
	if (strcmp(a->tag, "optional") == 0) {
		if (e->optional++)
			return sv_perr(P, a->line, a->col, "tag \":optional\" given twice");
		return 1;
	}
	return 0;
}

/* sv_include_check - a constant script name is valid; global needs variables */
int sv_include_check(sv_parser *P, sv_node *n)
{
	const sv_string *s;
	const char *why;
	size_t i;

	switch (n->op) {
	case SV_OP_INCLUDE:
		ext_of(n);
		s = &n->pos[0]->v[0];
		if (!s->has_vars && (why = name_problem(s->s, s->len)) != NULL)
			return sv_perr(P, s->line, s->col, "include: %s", why);
		if (strlen(s->s) != s->len)
			return sv_perr(P, s->line, s->col, "include: script name contains a NUL");
		return 0;
	case SV_OP_GLOBAL:
		/* RFC 6609 3.5: global is part of variables */
		if (sv_need_cap(P, n->line, n->col, SV_CAP_VARIABLES, "command \"global\"") < 0)
			return -1;
		for (i = 0; i < n->pos[0]->n; i++) {
			s = &n->pos[0]->v[i];
			if (s->has_vars || !sv_var_name_valid(s->s, s->len) || memchr(s->s, '.', s->len))
				return sv_perr(P, s->line, s->col, "global: invalid variable name \"%s\"",
					       s->s);
		}
		return 0;
	default:
		return 0;
	}
}

/* sv_var_is_global - whether a variable name refers to a global variable:
 * "global.NAME" (name and len then name NAME), or a name the running
 * script declared with global; the namespace only in scripts that
 * require include */
int sv_var_is_global(const sv_ctx *c, const char **name, size_t *len)
{
	size_t i, k;

	/* the namespace belongs to include: elsewhere "global.x" is a plain name */
	if (*len > 7 && (c->s->caps & SV_CAP_INCLUDE) && strncasecmp(*name, "global.", 7) == 0) {
		*name += 7;
		*len -= 7;
		return 1;
	}
	for (i = 0; i < c->ngdecl; i++)
		for (k = 0; k < c->gdecl[i]->n; k++) {
			const sv_string *s = &c->gdecl[i]->v[k];
			if (s->len == *len && strncasecmp(s->s, *name, *len) == 0)
				return 1;
		}
	return 0;
}

/* chain_text - "a -> b -> c" of the running scripts and then last */
static char *chain_text(const sv_ctx *c, const char *last)
{
	pn_buf b;
	unsigned i;

	pn_buf_init(&b, 0);
	for (i = 0; i <= c->include_depth; i++) {
		pn_buf_puts(&b, sv_script_name(c->include_chain[i]));
		pn_buf_puts(&b, " -> ");
	}
	pn_buf_puts(&b, last);
	return pn_buf_steal(&b, NULL);
}

/* already_included - the script ran in this run before (for :once) */
static int already_included(const sv_ctx *c, const sv_script *s)
{
	size_t i;

	for (i = 0; i < c->nincluded; i++)
		if (c->included[i] == s)
			return 1;
	return 0;
}

/* running - the script is in the chain of running scripts (a loop) */
static int running(const sv_ctx *c, const sv_script *s)
{
	unsigned i;

	for (i = 0; i <= c->include_depth; i++)
		if (c->include_chain[i] == s)
			return 1;
	return 0;
}

/* enter - run script s inside the current run, in its own variable scope */
static int enter(sv_ctx *c, const sv_script *s)
{
	const sv_script *outer = c->s;
	sv_var *vars = c->vars;
	size_t nvars = c->nvars, ngdecl = c->ngdecl, i;
	const sv_strlist **gdecl = c->gdecl;
	sv_captures caps = c->caps;
	int line = c->line, rc;

	c->included = pn_realloc(c->included, (c->nincluded + 1) * sizeof(*c->included));
	c->included[c->nincluded++] = s;
	c->includes++;
	c->include_chain[++c->include_depth] = s;
	c->s = s;
	c->vars = NULL;
	c->nvars = 0;
	c->gdecl = NULL;
	c->ngdecl = 0;
	memset(&c->caps, 0, sizeof(c->caps));
	rc = sv_exec_block(c, s->first);
	for (i = 0; i < c->nvars; i++) {
		pn_free(c->vars[i].name);
		pn_free(c->vars[i].val);
	}
	pn_free(c->vars);
	pn_free(c->gdecl);
	sv_captures_clear(&c->caps);
	c->caps = caps;
	c->vars = vars;
	c->nvars = nvars;
	c->gdecl = gdecl;
	c->ngdecl = ngdecl;
	c->s = outer;
	c->line = line;
	c->include_depth--;
	if (rc == SV_EXEC_RETURN)
		return SV_EXEC_OK;	/* return ends the included script only */
	return rc;
}

/* cmd_include - find the script, refuse loops and depth, run it */
static int cmd_include(sv_ctx *c, const sv_node *n)
{
	const include_ext *e = n->ext;
	const sv_services *svc = c->env->svc;
	const sv_script *s = NULL;
	const char *name, *why;
	const char *where = e->global ? "global" : "personal";
	size_t len;
	int missing = 0, rc;
	char *err = NULL, *chain;

	if ((name = sv_expand_z(c, &n->pos[0]->v[0], &len)) == NULL)
		return SV_EXEC_ERR;
	if ((why = name_problem(name, len)) != NULL)
		return sv_rt_error(c, "include: %s", why);
	if (c->include_depth == 0)
		c->include_chain[0] = c->s;
	if (svc && svc->include)
		s = svc->include(svc->include_arg, e->global, name, &missing, &err);
	else
		missing = 1;
	if (s == NULL) {
		if (missing && e->optional) {
			pn_free(err);
			return SV_EXEC_OK;
		}
		if (err) {
			rc = sv_rt_error(c, "include: %s script \"%s\": %s", where, name, err);
			pn_free(err);
			return rc;
		}
		return sv_rt_error(c, "include: %s script \"%s\" not found%s", where, name,
				   svc && svc->include ? "" : " (no script directories here)");
	}
	pn_free(err);
	if (e->once && already_included(c, s))
		return SV_EXEC_OK;
	if (running(c, s)) {
		chain = chain_text(c, sv_script_name(s));
		rc = sv_rt_error(c, "include loop: %s", chain);
		pn_free(chain);
		return rc;
	}
	if (c->include_depth + 1 > c->lim->max_include_depth
	    || c->include_depth + 1 > SV_MAX_INCLUDE_DEPTH) {
		chain = chain_text(c, sv_script_name(s));
		rc = sv_rt_error(c, "include nested deeper than %u: %s", c->lim->max_include_depth,
				 chain);
		pn_free(chain);
		return rc;
	}
	if (c->includes >= c->lim->max_includes)
		return sv_rt_error(c, "more than %u scripts included in one run",
				   c->lim->max_includes);
	return enter(c, s);
}

/* sv_include_run - include, return and global */
int sv_include_run(sv_ctx *c, const sv_node *n)
{
	switch (n->op) {
	case SV_OP_INCLUDE:
		return cmd_include(c, n);
	case SV_OP_RETURN:
		return SV_EXEC_RETURN;
	case SV_OP_GLOBAL:
		c->gdecl = pn_realloc(c->gdecl, (c->ngdecl + 1) * sizeof(*c->gdecl));
		c->gdecl[c->ngdecl++] = n->pos[0];
		return SV_EXEC_OK;
	default:
		return sv_rt_error(c, "unexpected command (internal)");
	}
}

/* sv_include_free - what a run's includes left: global variables, lists */
void sv_include_free(sv_ctx *c)
{
	size_t i;

	for (i = 0; i < c->ngvars; i++) {
		pn_free(c->gvars[i].name);
		pn_free(c->gvars[i].val);
	}
	pn_free(c->gvars);
	pn_free(c->included);
	pn_free(c->gdecl);
	c->gvars = NULL;
	c->included = NULL;
	c->gdecl = NULL;
	c->ngvars = c->nincluded = c->ngdecl = 0;
}
