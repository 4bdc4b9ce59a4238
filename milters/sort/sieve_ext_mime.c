/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_mime - mime, foreverypart, extracttext (RFC 5703) over common/mime.c's walk
 *
 * The parts are those of the body cache (sieve_body.c), which walks the
 * message with common/mime.c, the walk postern-audit and postern-archive
 * use: a part's type, its filename and its decoded content are what
 * those daemons record. The walk lists the parts in document order, the
 * message itself first, multipart containers included (keep_headers), so
 * the parts inside part i are the ones after it with a greater depth.
 *
 * foreverypart runs its block for every part, the message itself first
 * (as Pigeonhole does); a foreverypart inside another one runs over the
 * parts inside the outer loop's current part (RFC 5703 section 3).
 * break ends the innermost loop, or the innermost loop of that :name; the
 * validator refuses a break outside a loop of that name.
 *
 * header, address and exists with :mime read the header fields of the
 * current part (of the message outside any loop); :anychild adds every
 * part inside it. :type, :subtype and :contenttype read a Content-Type
 * (or the disposition type of a Content-Disposition); :param reads the
 * named parameters of either, decoded by common/mime.c exactly as it
 * decodes filenames (RFC 2231 charsets and continuations, RFC 2047
 * words): a filename means the same in sort and in audit. A parameter
 * given twice gives both values (the one audit records first), as in
 * Pigeonhole: a reader may show either. With an option,
 * any other header field reads as the empty string, and a field without
 * any of the :param names gives one empty string (as Pigeonhole does).
 * The message's own fields come from the header view, so editheader
 * changes count.
 *
 * extracttext stores the decoded content of the current part (text as
 * UTF-8, other leaves as their decoded bytes, nothing for a multipart or
 * an embedded message), at most :first characters, through set's
 * modifiers. Outside a loop it is refused when the script is compiled
 * (as Pigeonhole does).
 *
 * Costs: a step per part visited, a step per 256 bytes of a part's header
 * section read; the walk stops at 1,000 parts and 20 levels (mime.h).
 */
#include "milters/sort/sieve_int.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/rfc2047.h"

#include <string.h>
#include <strings.h>

/* ---- validation --------------------------------------------------------- */

/* has_mime_tag - whether :mime is among the node's tags (in any order:
 * the values of tags are string lists or numbers, never tags) */
static int has_mime_tag(const sv_node *n)
{
	size_t k;

	for (k = 0; k < n->nargs; k++)
		if (n->args[k].type == SV_ARG_TAG && strcmp(n->args[k].tag, "mime") == 0)
			return 1;
	return 0;
}

/* sv_mime_tag - :mime, :anychild, :type, :subtype, :contenttype, :param */
int sv_mime_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;
	static const struct { const char *name; int opt; } opts[] = {
		{"type", SV_MIME_TYPE}, {"subtype", SV_MIME_SUBTYPE},
		{"contenttype", SV_MIME_CONTENTTYPE}, {"param", SV_MIME_PARAM}, {NULL, 0}
	};
	int k;

	if (strcmp(a->tag, "mime") == 0) {
		if (sv_need_cap(P, a->line, a->col, SV_CAP_MIME, "tag \":mime\"") < 0)
			return -1;
		if (n->mime)
			return sv_perr(P, a->line, a->col, "tag \":mime\" given twice");
		n->mime = 1;
		P->script->uses_body = 1;
		return 1;
	}
	if (strcmp(a->tag, "anychild") == 0) {
		if (sv_need_cap(P, a->line, a->col, SV_CAP_MIME, "tag \":anychild\"") < 0)
			return -1;
		if (!has_mime_tag(n))
			return sv_perr(P, a->line, a->col, "tag \":anychild\" needs \":mime\"");
		if (n->anychild)
			return sv_perr(P, a->line, a->col, "tag \":anychild\" given twice");
		n->anychild = 1;
		return 1;
	}
	for (k = 0; opts[k].name; k++)
		if (strcmp(opts[k].name, a->tag) == 0)
			break;
	if (opts[k].name == NULL)
		return 0;
	if (sv_need_cap(P, a->line, a->col, SV_CAP_MIME, "a :mime option") < 0)
		return -1;
	if (n->op != SV_OP_HEADER)
		return sv_perr(P, a->line, a->col, "tag \":%s\" is for the header test only (RFC 5703 "
			       "section 4.1)", a->tag);
	if (!has_mime_tag(n))
		return sv_perr(P, a->line, a->col, "tag \":%s\" needs \":mime\"", a->tag);
	if (n->mime_opt != SV_MIME_NONE)
		return sv_perr(P, a->line, a->col, "tags :type, :subtype, :contenttype and :param "
			       "exclude each other");
	n->mime_opt = opts[k].opt;
	if (n->mime_opt == SV_MIME_PARAM) {
		if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a list of parameter names")) == NULL)
			return -1;
		n->mime_params = &v->list;
	}
	return 1;
}

/* sv_mime_cmd_tag - :name of foreverypart and break, :first of extracttext */
int sv_mime_cmd_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;
	sv_string *s;

	if (strcmp(a->tag, "name") == 0 && n->op != SV_OP_EXTRACTTEXT) {
		if (n->ext)
			return sv_perr(P, a->line, a->col, "tag \":name\" given twice");
		if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a loop name")) == NULL
		    || (s = sv_single_string(P, v, "the loop name")) == NULL)
			return -1;
		if (s->len == 0 || strlen(s->s) != s->len)
			return sv_perr(P, s->line, s->col, "empty loop name");
		n->ext = pn_strdup(s->s);
		n->ext_free = pn_free;
		return 1;
	}
	if (strcmp(a->tag, "first") == 0 && n->op == SV_OP_EXTRACTTEXT) {
		if (n->number)
			return sv_perr(P, a->line, a->col, "tag \":first\" given twice");
		if ((v = sv_take_value(P, n, i, SV_ARG_NUMBER, "a number")) == NULL)
			return -1;
		if (v->num == 0 || v->num > 0x7fffffff)
			return sv_perr(P, v->line, v->col, ":first must be between 1 and 2147483647");
		n->number = v->num;
		return 1;
	}
	return 0;
}

/* break_target - the enclosing loop a break ends, or NULL */
static const sv_node *break_target(const sv_parser *P, const char *name)
{
	size_t k;

	for (k = P->nouter; k-- > 0;) {
		const sv_node *o = P->outer[k];

		if (o->op != SV_OP_FOREVERYPART)
			continue;
		if (name == NULL || (o->ext && strcmp(o->ext, name) == 0))
			return o;
	}
	return NULL;
}

/* sv_mime_check - foreverypart, break, extracttext */
int sv_mime_check(sv_parser *P, sv_node *n)
{
	const sv_string *s;

	switch (n->op) {
	case SV_OP_FOREVERYPART:
		P->script->uses_body = 1;
		return 0;
	case SV_OP_BREAK:
		if (break_target(P, n->ext) == NULL) {
			if (n->ext)
				return sv_perr(P, n->line, n->col, "break is not inside a foreverypart "
					       "loop named \"%s\"", (const char *)n->ext);
			return sv_perr(P, n->line, n->col, "break is not inside a foreverypart loop");
		}
		return 0;
	case SV_OP_EXTRACTTEXT:
		if (sv_need_cap(P, n->line, n->col, SV_CAP_VARIABLES, "extracttext") < 0
		    || sv_need_cap(P, n->line, n->col, SV_CAP_FOREVERYPART, "extracttext") < 0)
			return -1;
		/* refused outside a loop, as Pigeonhole does: there is no part
		 * to read, and an error now beats a silently empty variable */
		if (break_target(P, NULL) == NULL)
			return sv_perr(P, n->line, n->col, "extracttext is not inside a foreverypart "
				       "loop");
		s = &n->pos[0]->v[0];
		if (!sv_var_name_valid(s->s, s->len))
			return sv_perr(P, s->line, s->col, "invalid variable name \"%s\"", s->s);
		P->script->uses_body = 1;
		return 0;
	default:
		return sv_perr(P, n->line, n->col, "unexpected command (internal)");
	}
}

/* ---- the parts ---------------------------------------------------------- */

/* load_parts - the body's walk; the number of parts, or -1 */
static long load_parts(sv_ctx *c)
{
	if (c->env->body == NULL || c->env->msg == NULL)
		return 0;
	if (sv_body_load(c->env->body, c->env->msg, c->lim->max_body_size) < 0)
		return sv_rt_error(c, "cannot read the message body");
	return (long)sv_body_part_count(c->env->body);
}

/* subtree_end - one past the last part inside part i */
static size_t subtree_end(sv_ctx *c, size_t i, size_t count)
{
	unsigned d = sv_body_part(c->env->body, i)->depth;
	size_t j;

	for (j = i + 1; j < count && sv_body_part(c->env->body, j)->depth > d; j++)
		;
	return j;
}

/* is_top - the message itself, whose fields are the header view's */
static int is_top(const pn_mime_part *p)
{
	return p == NULL || (p->depth == 0 && p->header == NULL);
}

/* part_fields - unfolded raw values of the part's fields named name */
static int part_fields(sv_ctx *c, const pn_mime_part *p, const char *name, sv_vals *out)
{
	const char *s = p->header, *end = s + p->header_len;
	size_t nlen = strlen(name);

	if (s == NULL)
		return 0;
	if (sv_steps_n(c, 1 + p->header_len / 256) < 0)
		return -1;
	/* each round consumes one field, its folded lines included */
	while (s < end) {
		const char *f = s, *colon, *v, *fe;
		size_t ne;

		do {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			s = nl ? nl + 1 : end;
		} while (s < end && (*s == ' ' || *s == '\t'));
		fe = s;
		if ((colon = memchr(f, ':', (size_t)(fe - f))) == NULL)
			continue;
		ne = (size_t)(colon - f);
		while (ne > 0 && (f[ne - 1] == ' ' || f[ne - 1] == '\t'))
			ne--;
		if (ne != nlen || strncasecmp(f, name, nlen) != 0)
			continue;
		for (v = colon + 1; v < fe && (*v == ' ' || *v == '\t'); v++)
			;
		{
			char *u = pn_header_unfold(v, (size_t)(fe - v));
			size_t len = strlen(u);

			while (len && (u[len - 1] == ' ' || u[len - 1] == '\t' || u[len - 1] == '\r'
				       || u[len - 1] == '\n'))
				len--;
			u[len] = '\0';
			sv_vals_put(out, u, len, 1);
		}
	}
	return 0;
}

/* decoded - RFC 2047-decode owned values in place (the header test's view) */
static void decoded(sv_vals *v, size_t from)
{
	size_t i;

	for (i = from; i < v->n; i++) {
		char *d = pn_rfc2047_decode(v->v[i], v->len[i]);
		size_t len = strlen(d);

		while (len && (d[len - 1] == ' ' || d[len - 1] == '\t'))
			len--;
		d[len] = '\0';
		if (v->own[i])
			pn_free((char *)v->v[i]);
		v->v[i] = d;
		v->len[i] = len;
		v->own[i] = 1;
	}
}

/* option_value - what :type, :subtype, :contenttype or :param make of a value */
static void option_value(sv_ctx *c, const sv_node *t, const char *name, const char *value,
			 sv_vals *out)
{
	int ct = strcasecmp(name, "content-type") == 0;
	char *type, *slash;
	size_t k, before = out->n;

	if (!ct && strcasecmp(name, "content-disposition") != 0) {
		sv_vals_put(out, "", 0, 0);
		return;
	}
	if (t->mime_opt == SV_MIME_PARAM) {
		for (k = 0; k < t->mime_params->n; k++) {
			size_t plen, nv, j;
			const char *pname = sv_expand_z(c, &t->mime_params->v[k], &plen);
			char **pv = NULL;

			nv = pname ? pn_mime_value_params(value, pname, &pv) : 0;
			for (j = 0; j < nv; j++)
				sv_vals_put(out, pv[j], strlen(pv[j]), 1);
			pn_free(pv);
		}
		if (out->n == before)
			sv_vals_put(out, "", 0, 0);
		return;
	}
	if ((type = pn_mime_value_type(value, ct)) == NULL) {
		sv_vals_put(out, "", 0, 0);
		return;
	}
	slash = strchr(type, '/');
	if (t->mime_opt == SV_MIME_TYPE && slash)
		*slash = '\0';
	else if (t->mime_opt == SV_MIME_SUBTYPE)
		memmove(type, slash ? slash + 1 : type + strlen(type),
			strlen(slash ? slash + 1 : type + strlen(type)) + 1);
	sv_vals_put(out, type, strlen(type), 1);
}

/* header_part - the values header/address compare, from one part */
static int header_part(sv_ctx *c, const sv_node *t, const pn_mime_part *p, const char *name,
		       sv_vals *out)
{
	sv_vals raw;
	size_t i, from = out->n;
	int r;

	memset(&raw, 0, sizeof(raw));
	if (is_top(p)) {
		if (t->op == SV_OP_ADDRESS && t->mime_opt == SV_MIME_NONE)
			return sv_address_values(c, t, name, out);
		r = sv_header_values(c, name, t->mime_opt == SV_MIME_NONE ? out : &raw);
	} else {
		r = part_fields(c, p, name, t->mime_opt == SV_MIME_NONE && t->op != SV_OP_ADDRESS
						 ? out : &raw);
		if (r == 0 && t->mime_opt == SV_MIME_NONE && t->op != SV_OP_ADDRESS)
			decoded(out, from);
	}
	if (r < 0) {
		sv_vals_free(&raw);
		return -1;
	}
	for (i = 0; i < raw.n; i++) {
		if (t->op == SV_OP_ADDRESS) {
			pn_addr_list *l = pn_addr_parse_list(raw.v[i], 1000);
			size_t j;

			if (sv_steps_n(c, 1 + raw.len[i] / 256) < 0) {
				pn_addr_list_free(l);
				sv_vals_free(&raw);
				return -1;
			}
			for (j = 0; j < l->count; j++) {
				const pn_addr *a = &l->items[j];
				if (a->domain[0] == '\0' && t->part != SV_PART_ALL)
					continue;
				sv_address_part(c, t->part, a->local, a->domain, a->address, out);
			}
			pn_addr_list_free(l);
		} else {
			option_value(c, t, name, raw.v[i], out);
		}
	}
	sv_vals_free(&raw);
	return 0;
}

/* part_has - whether part p has a field named name (-1: budget) */
static int part_has(sv_ctx *c, const pn_mime_part *p, const char *name)
{
	sv_vals f;
	int r;

	if (is_top(p))
		return sv_has_header(c, name);
	memset(&f, 0, sizeof(f));
	r = part_fields(c, p, name, &f) < 0 ? -1 : f.n > 0;
	sv_vals_free(&f);
	return r;
}

/* exists_in - exists :mime: each name in one of the parts [first, end)
 * (with :anychild not necessarily the same part, as Pigeonhole reads it) */
static int exists_in(sv_ctx *c, const sv_node *t, long count, size_t first, size_t end)
{
	size_t i, k, len;

	for (i = 0; i < t->pos[0]->n; i++) {
		const char *name = sv_expand_z(c, &t->pos[0]->v[i], &len);
		int found = 0;

		if (name == NULL)
			return -1;
		for (k = first; k < end && !found; k++) {
			if (sv_step(c) < 0)
				return -1;
			found = part_has(c, count ? sv_body_part(c->env->body, k) : NULL, name);
			if (found < 0)
				return -1;
		}
		if (!found)
			return 0;
	}
	return 1;
}

/* sv_mime_test_run - header, address, exists with :mime [:anychild] */
int sv_mime_test_run(sv_ctx *c, const sv_node *t)
{
	long count = load_parts(c);
	size_t first, end, k, i, len;
	sv_vals v;
	int r = 0;

	if (count < 0)
		return -1;
	first = c->part ? c->part_index : 0;
	if (count == 0)
		end = 1;	/* no body cache: the message's own fields */
	else
		end = t->anychild ? subtree_end(c, first, (size_t)count) : first + 1;
	if (t->op == SV_OP_EXISTS)
		return exists_in(c, t, count, first, end);
	memset(&v, 0, sizeof(v));
	for (k = first; k < end && r == 0; k++) {
		const pn_mime_part *p = count ? sv_body_part(c->env->body, k) : NULL;

		if (sv_step(c) < 0) {
			r = -1;
			break;
		}
		for (i = 0; i < t->pos[0]->n; i++) {
			const char *name = sv_expand_z(c, &t->pos[0]->v[i], &len);

			if (name == NULL || (t->op == SV_OP_ADDRESS && !sv_address_header(name))) {
				if (name)
					sv_rt_error(c, "header \"%s\" is not known to contain addresses",
						    name);
				r = -1;
				break;
			}
			if (header_part(c, t, p, name, &v) < 0) {
				r = -1;
				break;
			}
		}
	}
	if (r < 0) {
		sv_vals_free(&v);
		return r;
	}
	r = sv_match_values(c, t, &v, t->pos[1]);
	sv_vals_free(&v);
	return r;
}

/* ---- commands ----------------------------------------------------------- */

/* foreverypart - the block for each part (inside the current one) */
static int foreverypart(sv_ctx *c, const sv_node *n)
{
	long count = load_parts(c);
	const pn_mime_part *outer = c->part;
	size_t outer_index = c->part_index, first, end, k;
	const char *name = n->ext;
	int r = SV_EXEC_OK;

	if (count <= 0)
		return count < 0 ? SV_EXEC_ERR : SV_EXEC_OK;
	if (outer) {
		first = outer_index + 1;
		end = subtree_end(c, outer_index, (size_t)count);
	} else {
		first = 0;
		end = (size_t)count;
	}
	for (k = first; k < end; k++) {
		c->line = n->line;
		if (sv_step(c) < 0) {
			r = SV_EXEC_ERR;
			break;
		}
		c->part = sv_body_part(c->env->body, k);
		c->part_index = k;
		r = sv_exec_block(c, n->block);
		if (r == SV_EXEC_BREAK && (c->break_name == NULL
					   || (name && strcmp(name, c->break_name) == 0))) {
			c->break_name = NULL;
			r = SV_EXEC_OK;
			break;
		}
		if (r != SV_EXEC_OK)
			break;
	}
	c->part = outer;
	c->part_index = outer_index;
	return r;
}

/* utf8_chars - bytes of the first max characters */
static size_t utf8_chars(const char *s, size_t len, unsigned long long max)
{
	size_t i;
	unsigned long long chars = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max)
			return i;
	return len;
}

/* extracttext - the current part's content into a variable */
static int extracttext(sv_ctx *c, const sv_node *n)
{
	const sv_string *var = &n->pos[0]->v[0];
	const pn_mime_part *p = c->part;
	const char *text = "";
	size_t len = 0;

	if (p && !p->is_multipart && !p->is_container && p->text) {
		text = p->text;
		len = p->text_len;
		if (n->number)
			len = utf8_chars(text, len, n->number);
	}
	{
		char *val = sv_apply_modifiers(n->mods, text, len, &len);

		return sv_set_var(c, var->s, var->len, val, len);
	}
}

/* sv_mime_run - foreverypart, break, extracttext */
int sv_mime_run(sv_ctx *c, const sv_node *n)
{
	switch (n->op) {
	case SV_OP_FOREVERYPART:
		return foreverypart(c, n);
	case SV_OP_BREAK:
		c->break_name = n->ext;
		return SV_EXEC_BREAK;
	case SV_OP_EXTRACTTEXT:
		return extracttext(c, n);
	default:
		return sv_rt_error(c, "unexpected command (internal)");
	}
}
