/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_run - execute a compiled Sieve script for one recipient
 *
 * The tree is read-only; everything a run changes lives in its context
 * (variables, match variables, the step budget, temporary strings) or in
 * the result (actions, the header view). Errors at run time follow
 * RFC 5228 section 2.10.6: the actions are dropped and the implicit keep
 * applies.
 */
#include "milters/sort/sieve_int.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/rfc2047.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* longest string a variable expansion may build */
#define EXPAND_MAX ((size_t)1024 * 1024)

/* ---- small helpers ------------------------------------------------------ */

/* sv_keep_tmp - free p at the end of the run */
const char *sv_keep_tmp(sv_ctx *c, char *p)
{
	if (c->ntmp == c->tmpcap) {
		c->tmpcap = c->tmpcap ? c->tmpcap * 2 : 16;
		c->tmp = pn_realloc(c->tmp, c->tmpcap * sizeof(*c->tmp));
	}
	c->tmp[c->ntmp++] = p;
	return p;
}

/* sv_rt_error - record a run-time error at the current line */
int sv_rt_error(sv_ctx *c, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;
	char *msg;

	if (c->r->error)
		return SV_EXEC_ERR;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = pn_malloc(n > 0 ? (size_t)n + 1 : 1);
	msg[0] = '\0';
	if (n > 0)
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	c->r->error = pn_asprintf("line %d: %s", c->line, msg);
	c->r->error_script = c->s->name;
	pn_free(msg);
	return SV_EXEC_ERR;
}

/* sv_steps_n - n units of the run-time budget */
int sv_steps_n(sv_ctx *c, unsigned long n)
{
	if (c->steps < n) {
		c->steps = 0;
		return sv_rt_error(c, "script exceeded its run-time budget of %lu steps",
				c->lim->max_steps);
	}
	c->steps -= n;
	return 0;
}

/* sv_step - one unit of the run-time budget */
int sv_step(sv_ctx *c)
{
	return sv_steps_n(c, 1);
}

/* sv_vals_put - append a value, owned or referenced */
void sv_vals_put(sv_vals *v, const char *s, size_t len, int own)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->v = pn_realloc(v->v, v->cap * sizeof(*v->v));
		v->len = pn_realloc(v->len, v->cap * sizeof(*v->len));
		v->own = pn_realloc(v->own, v->cap);
	}
	v->v[v->n] = s;
	v->own[v->n] = (unsigned char)own;
	v->len[v->n++] = len;
}

/* sv_vals_add - append a copy of a value */
void sv_vals_add(sv_vals *v, const char *s, size_t len)
{
	sv_vals_put(v, pn_memdup0(s, len), len, 1);
}

/* sv_vals_free - release the values */
void sv_vals_free(sv_vals *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->own[i])
			pn_free((char *)v->v[i]);
	pn_free(v->v);
	pn_free(v->len);
	pn_free(v->own);
	memset(v, 0, sizeof(*v));
}

/* sv_utf8_cut - longest prefix of at most max bytes that ends on a character */
size_t sv_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* ---- variables ---------------------------------------------------------- */

/* sv_find_var - a variable by name, any case */
sv_var *sv_find_var(sv_ctx *c, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < c->nvars; i++)
		if (strlen(c->vars[i].name) == len && strncasecmp(c->vars[i].name, name, len) == 0)
			return &c->vars[i];
	return NULL;
}

/* sv_expand - a string argument with its variables substituted */
const char *sv_expand(sv_ctx *c, const sv_string *s, size_t *len)
{
	const char *p = s->s, *end = s->s + s->len;
	pn_buf b;

	if (!s->has_vars) {
		*len = s->len;
		return s->s;
	}
	pn_buf_init(&b, EXPAND_MAX);
	while (p < end) {
		const char *close;
		size_t n;

		if (p + 1 < end && p[0] == '$' && p[1] == '{'
		    && (close = memchr(p + 2, '}', (size_t)(end - p - 2))) != NULL) {
			const char *name = p + 2;
			n = (size_t)(close - name);
			if (n > 0 && strspn(name, "0123456789") >= n) {
				size_t k = 0, i;
				for (i = 0; i < n && k < 100; i++)
					k = k * 10 + (size_t)(name[i] - '0');
				if (k < SV_MAX_MATCH_VARS && c->caps.v[k])
					pn_buf_append(&b, c->caps.v[k], c->caps.len[k]);
				p = close + 1;
				continue;
			}
			if (sv_var_name_valid(name, n)) {
				sv_var *v = sv_find_var(c, name, n);
				if (v)
					pn_buf_append(&b, v->val, v->len);
				p = close + 1;
				continue;
			}
		}
		pn_buf_putc(&b, *p);
		p++;
	}
	*len = pn_buf_len(&b);
	return sv_keep_tmp(c, pn_buf_steal(&b, NULL));
}

/* sv_expand_z - expand and also refuse values with a NUL (used as C strings) */
const char *sv_expand_z(sv_ctx *c, const sv_string *s, size_t *len)
{
	const char *v = sv_expand(c, s, len);
	if (strlen(v) != *len) {
		sv_rt_error(c, "string contains a NUL character");
		return NULL;
	}
	return v;
}

/* apply_modifiers - set's :lower, :upper ... in precedence order */
static char *apply_modifiers(int mods, const char *v, size_t len, size_t *outlen)
{
	pn_buf b;
	size_t i;
	char *s = pn_memdup0(v, len);

	if (mods & (SV_MOD_LOWER | SV_MOD_UPPER))
		for (i = 0; i < len; i++) {
			if ((mods & SV_MOD_LOWER) && s[i] >= 'A' && s[i] <= 'Z')
				s[i] = (char)(s[i] - 'A' + 'a');
			if ((mods & SV_MOD_UPPER) && s[i] >= 'a' && s[i] <= 'z')
				s[i] = (char)(s[i] - 'a' + 'A');
		}
	if (len && (mods & SV_MOD_LOWERFIRST) && s[0] >= 'A' && s[0] <= 'Z')
		s[0] = (char)(s[0] - 'A' + 'a');
	if (len && (mods & SV_MOD_UPPERFIRST) && s[0] >= 'a' && s[0] <= 'z')
		s[0] = (char)(s[0] - 'a' + 'A');
	if (mods & (SV_MOD_QUOTEWILDCARD | SV_MOD_QUOTEREGEX)) {
		const char *special = (mods & SV_MOD_QUOTEWILDCARD) ? "*?\\" : "*?\\.^$[]{}()|+";
		pn_buf_init(&b, 0);
		for (i = 0; i < len; i++) {
			if (s[i] && strchr(special, s[i]))
				pn_buf_putc(&b, '\\');
			pn_buf_putc(&b, s[i]);
		}
		pn_free(s);
		s = pn_buf_steal(&b, &len);
	}
	if (mods & SV_MOD_LENGTH) {
		size_t chars = 0;
		for (i = 0; i < len; i++)
			if (((unsigned char)s[i] & 0xc0) != 0x80)
				chars++;
		pn_free(s);
		s = pn_asprintf("%zu", chars);
		len = strlen(s);
	}
	*outlen = len;
	return s;
}

/* cmd_set - the set action (RFC 5229) */
static int cmd_set(sv_ctx *c, const sv_node *n)
{
	const sv_string *name = &n->pos[0]->v[0];
	size_t vlen, len;
	const char *v = sv_expand(c, &n->pos[1]->v[0], &vlen);
	char *val = apply_modifiers(n->mods, v, vlen, &len);

	return sv_set_var(c, name->s, name->len, val, len);
}

/* sv_set_var - set a variable to val (taken), cut to the size limit */
int sv_set_var(sv_ctx *c, const char *vname, size_t nlen, char *val, size_t len)
{
	sv_var *x = sv_find_var(c, vname, nlen);

	len = sv_utf8_cut(val, len, c->lim->max_variable_size);
	val[len] = '\0';
	if (x == NULL) {
		size_t i;
		if (c->nvars >= c->lim->max_variables) {
			pn_free(val);
			return sv_rt_error(c, "more than %u variables", c->lim->max_variables);
		}
		c->vars = pn_realloc(c->vars, (c->nvars + 1) * sizeof(*c->vars));
		x = &c->vars[c->nvars++];
		x->name = pn_strndup(vname, nlen);
		for (i = 0; x->name[i]; i++)
			if (x->name[i] >= 'A' && x->name[i] <= 'Z')
				x->name[i] = (char)(x->name[i] - 'A' + 'a');
	} else {
		pn_free(x->val);
	}
	x->val = val;
	x->len = len;
	return SV_EXEC_OK;
}

/* ---- matching ----------------------------------------------------------- */

/* sv_match_values - any value against any key (or :count) */
int sv_match_values(sv_ctx *c, const sv_node *n, const sv_vals *v, const sv_strlist *keys)
{
	size_t i, k;
	int use_caps = (c->s->caps & SV_CAP_VARIABLES) != 0;
	const regex_t *pre = n->nres == keys->n ? n->res : NULL;

	if (n->m.match == SV_MATCH_COUNT) {
		for (k = 0; k < keys->n; k++) {
			size_t klen;
			const char *key = sv_expand(c, &keys->v[k], &klen);
			if (sv_step(c) < 0)
				return -1;
			if (sv_match_count(&n->m, v->n, key, klen))
				return 1;
		}
		return 0;
	}
	for (k = 0; k < keys->n; k++) {
		size_t klen;
		const char *key = sv_expand(c, &keys->v[k], &klen);
		regex_t rt;
		const regex_t *re = pre ? &pre[k] : NULL;
		int compiled = 0, r = 0;

		if (n->m.match == SV_MATCH_REGEX && re == NULL) {
			char *err = NULL;
			if (strlen(key) != klen)
				return sv_rt_error(c, "regular expression contains a NUL");
			if (sv_regex_compile(&rt, key, n->m.cmp, c->lim->max_regex_size, &err) < 0) {
				sv_rt_error(c, "%s", err);
				pn_free(err);
				return -1;
			}
			re = &rt;
			compiled = 1;
		}
		for (i = 0; i < v->n; i++) {
			c->caps.wanted = use_caps;
			r = sv_match_value(&n->m, v->v[i], v->len[i], key, klen, re,
					   use_caps ? &c->caps : NULL, &c->steps);
			if (r != 0)
				break;
		}
		if (compiled)
			regfree(&rt);
		if (r < 0)
			return sv_rt_error(c, "script exceeded its run-time budget of %lu steps",
					c->lim->max_steps);
		if (r > 0)
			return 1;
	}
	return 0;
}

/* ---- headers ------------------------------------------------------------ */

/* hdr_decoded - an added field's decoded value, computed once */
static const char *hdr_decoded(sv_hdr *h)
{
	size_t len;

	if (h->decoded == NULL) {
		h->decoded = pn_rfc2047_decode(h->value, strlen(h->value));
		len = strlen(h->decoded);
		while (len && (h->decoded[len - 1] == ' ' || h->decoded[len - 1] == '\t'))
			len--;
		h->decoded[len] = '\0';
	}
	return h->decoded;
}

/* a field of the header view */
typedef struct vfield {
	const char *name;
	const char *value;	/* raw, past leading white space */
	long orig;		/* index in msg->headers, or -1 */
	sv_hdr *added;		/* the added field, or NULL */
} vfield;

/* view_size - positions in the header view */
static size_t view_size(const sv_result *r)
{
	return r->nhdrs + r->norig;
}

/* view_at - the field at position k; 0 when it is a deleted original */
static int view_at(const sv_result *r, size_t k, vfield *f)
{
	sv_hdr *h;

	if (k < r->ntop) {
		h = &r->hdrs[k];
	} else if (k - r->ntop < r->norig) {
		k -= r->ntop;
		if (r->deleted && r->deleted[k])
			return 0;
		f->name = r->msg->headers[k].name;
		f->value = r->msg->headers[k].value;
		f->orig = (long)k;
		f->added = NULL;
		return 1;
	} else {
		h = &r->hdrs[k - r->norig];
	}
	f->name = h->name;
	f->value = h->value;
	f->orig = -1;
	f->added = h;
	return 1;
}

/* plain_value - a value that decoding would return unchanged but for
 * trailing blanks: printable ASCII, no line break, no encoded-word */
static int plain_value(const char *v)
{
	const unsigned char *p;

	for (p = (const unsigned char *)v; *p; p++)
		if (*p >= 0x80 || *p == '\r' || *p == '\n' || (*p == '=' && p[1] == '?'))
			return 0;
	return 1;
}

/* field_values - append a field's decoded value: in place when decoding
 * changes nothing, else a decoded copy */
static void field_value(const vfield *f, sv_vals *out)
{
	size_t len;
	char *d;

	if (f->added) {
		const char *v = hdr_decoded(f->added);
		sv_vals_put(out, v, strlen(v), 0);
		return;
	}
	if (plain_value(f->value)) {
		len = strlen(f->value);
		while (len && (f->value[len - 1] == ' ' || f->value[len - 1] == '\t'))
			len--;
		sv_vals_put(out, f->value, len, 0);
		return;
	}
	d = pn_rfc2047_decode(f->value, strlen(f->value));
	len = strlen(d);
	while (len && (d[len - 1] == ' ' || d[len - 1] == '\t'))
		len--;
	d[len] = '\0';
	sv_vals_put(out, d, len, 1);
}

/* scan_cost - charge a walk over the whole header view: one step per
 * 256 fields, so that a message with very many fields cannot make each
 * header test free */
static int scan_cost(sv_ctx *c)
{
	return sv_steps_n(c, view_size(c->r) / 256);
}

/* sv_header_values - decoded values of every field named name in the view */
int sv_header_values(sv_ctx *c, const char *name, sv_vals *out)
{
	size_t i, n = view_size(c->r);
	vfield f;

	if (scan_cost(c) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (view_at(c->r, i, &f) && strcasecmp(f.name, name) == 0)
			field_value(&f, out);
	return 0;
}

/* sv_has_header - whether the view holds a field named name (-1: budget) */
int sv_has_header(sv_ctx *c, const char *name)
{
	size_t i, n = view_size(c->r);
	vfield f;

	if (scan_cost(c) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (view_at(c->r, i, &f) && strcasecmp(f.name, name) == 0)
			return 1;
	return 0;
}

/* add_part - one address part of a parsed address */
static void add_part(sv_ctx *c, int part, const char *local, const char *domain,
		     const char *address, sv_vals *out)
{
	char *user = NULL, *detail = NULL;

	switch (part) {
	case SV_PART_ALL:
		sv_vals_add(out, address, strlen(address));
		return;
	case SV_PART_LOCAL:
		sv_vals_add(out, local, strlen(local));
		return;
	case SV_PART_DOMAIN:
		sv_vals_add(out, domain, strlen(domain));
		return;
	}
	pn_addr_split_sub(local, c->env->separators ? c->env->separators : "+", &user, &detail);
	if (part == SV_PART_USER)
		sv_vals_add(out, user, strlen(user));
	else if (detail)
		sv_vals_add(out, detail, strlen(detail));
	pn_free(user);
	pn_free(detail);
}

/* address_list - the addresses of a field; a message field's list is
 * parsed once per run (a 100-rule script tests From many times), a field
 * a script added is parsed each time and freed by the caller */
static pn_addr_list *address_list(sv_ctx *c, const vfield *f)
{
	if (f->orig < 0)
		return pn_addr_parse_list(f->value, 1000);
	if (c->addr_cache == NULL)
		c->addr_cache = pn_calloc(c->r->norig, sizeof(*c->addr_cache));
	if (c->addr_cache[f->orig] == NULL)
		c->addr_cache[f->orig] = pn_addr_parse_list(f->value, 1000);
	return c->addr_cache[f->orig];
}

/* sv_address_values - address parts from the named headers */
int sv_address_values(sv_ctx *c, const sv_node *n, const char *name, sv_vals *out)
{
	size_t i, j, nv = view_size(c->r);
	vfield f;

	if (scan_cost(c) < 0)
		return -1;
	for (i = 0; i < nv; i++) {
		pn_addr_list *l;

		if (!view_at(c->r, i, &f) || strcasecmp(f.name, name) != 0)
			continue;
		/* parsing costs about the value's length (charged each time,
		 * so the budget does not depend on the cache) */
		if (sv_steps_n(c, 1 + strlen(f.value) / 256) < 0)
			return -1;
		l = address_list(c, &f);
		for (j = 0; j < l->count; j++) {
			const pn_addr *a = &l->items[j];
			/* RFC 5228 2.7.4: an invalid address (here: no domain)
			 * matches only as a whole */
			if (a->domain[0] == '\0' && n->part != SV_PART_ALL)
				continue;
			add_part(c, n->part, a->local, a->domain, a->address, out);
		}
		if (f.orig < 0)
			pn_addr_list_free(l);
	}
	return 0;
}

/* envelope_values - address parts of the envelope sender or recipient,
 * canonical but in the case the MTA gave (sieve_envelope.c) */
static void envelope_values(sv_ctx *c, const sv_node *n, const char *part, sv_vals *out)
{
	const char *path;
	const pn_addr *given;

	if (strcasecmp(part, "from") == 0) {
		path = c->env->from;
		given = c->env->from_addr;
	} else if (strcasecmp(part, "to") == 0) {
		path = c->env->to;
		given = c->env->to_addr;
	} else {
		return;
	}
	if (path == NULL && given == NULL)
		return;
	if (given == NULL) {
		/* made once per run: the caller (the test tool) gave no view */
		int k = part[0] == 'f' || part[0] == 'F' ? 0 : 1;
		if (c->env_state[k] == 0)
			c->env_state[k] = sv_envelope_address(path, NULL, &c->env_view[k]) < 0
					  ? -1 : 1;
		if (c->env_state[k] < 0) {
			/* what the MTA accepted but we cannot split: compare it whole */
			if (n->part == SV_PART_ALL)
				sv_vals_add(out, path, strlen(path));
			return;
		}
		given = &c->env_view[k];
	}
	if (given->address[0] == '\0') {	/* null sender: every part is empty */
		if (n->part != SV_PART_DETAIL)
			sv_vals_add(out, "", 0);
	} else {
		add_part(c, n->part, given->local, given->domain, given->address, out);
	}
}

/* sv_env_item - an environment item's value, or NULL when unknown */
const char *sv_env_item(const sv_ctx *c, const char *name)
{
	const char *const *p;

	if (c->env->items == NULL)
		return NULL;
	for (p = c->env->items; p[0] && p[1]; p += 2)
		if (strcasecmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

/* content_type_matches - body :content type list against a part's type */
static int content_type_matches(const char *want, size_t wlen, const char *type)
{
	const char *slash = strchr(type, '/');

	if (wlen == 0)
		return 1;
	if (memchr(want, '/', wlen))
		return strlen(type) == wlen && strncasecmp(want, type, wlen) == 0;
	return slash && (size_t)(slash - type) == wlen && strncasecmp(want, type, wlen) == 0;
}

/* header_len - the header section of a message: up to its empty line */
static size_t header_len(const char *m, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (m[i] != '\n')
			continue;
		if (i + 1 < len && m[i + 1] == '\n')
			return i + 1;
		if (i + 2 < len && m[i + 1] == '\r' && m[i + 2] == '\n')
			return i + 1;
	}
	return len;	/* no body: all header */
}

/* is_message - an embedded message part */
static int is_message(const pn_mime_part *p)
{
	return p->is_container || strcmp(p->content_type, "message/rfc822") == 0
	       || strcmp(p->content_type, "message/global") == 0;
}

/*
 * body_values - what the body test compares, by transform. :content
 * (RFC 5173 5.2) searches the decoded content of every part of a listed
 * type, text or not (application/pdf finds "%PDF" in a base64 part); of a
 * matching message/rfc822 part only the enclosed message's header, as one
 * string, while the parts inside it are searched when their own type
 * matches. Multipart prologues and epilogues are not searched.
 */
static int body_values(sv_ctx *c, const sv_node *n, sv_vals *out)
{
	size_t i, k;

	if (c->env->body == NULL || c->env->msg == NULL)
		return 0;
	if (sv_body_load(c->env->body, c->env->msg, c->lim->max_body_size) < 0)
		return sv_rt_error(c, "cannot read the message body");
	if (n->transform == SV_BODY_RAW) {
		size_t len;
		const char *raw = sv_body_raw(c->env->body, &len);
		sv_vals_put(out, raw, len, 0);	/* the body cache outlives the test */
		return 0;
	}
	for (i = 0; i < sv_body_part_count(c->env->body); i++) {
		const pn_mime_part *p = sv_body_part(c->env->body, i);
		int want = 0;

		if (p->text == NULL)
			continue;
		if (n->transform == SV_BODY_TEXT) {
			want = !p->is_container && strncasecmp(p->content_type, "text/", 5) == 0;
		} else {
			for (k = 0; k < n->types->n && !want; k++) {
				size_t tlen;
				const char *t = sv_expand(c, &n->types->v[k], &tlen);
				want = content_type_matches(t, tlen, p->content_type);
			}
		}
		if (!want)
			continue;
		if (is_message(p))
			sv_vals_put(out, p->text, header_len(p->text, p->text_len), 0);
		else
			sv_vals_put(out, p->text, p->text_len, 0);
	}
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

/* sv_eval - a test: 1 true, 0 false, -1 error */
int sv_eval(sv_ctx *c, const sv_node *t)
{
	sv_vals v;
	size_t i, len;
	int r = 0;
	const char *s;

	if (sv_step(c) < 0)
		return -1;
	if (t->run)
		return t->run(c, t);		/* an extension's test */
	if (t->mime || t->anychild)
		return sv_mime_test_run(c, t);	/* header/address/exists :mime */
	memset(&v, 0, sizeof(v));
	switch (t->op) {
	case SV_OP_TRUE:
		return 1;
	case SV_OP_FALSE:
		return 0;
	case SV_OP_NOT:
		r = sv_eval(c, t->tests[0]);
		return r < 0 ? r : !r;
	case SV_OP_ALLOF:
		for (i = 0; i < t->ntests; i++)
			if ((r = sv_eval(c, t->tests[i])) <= 0)
				return r;
		return 1;
	case SV_OP_ANYOF:
		for (i = 0; i < t->ntests; i++)
			if ((r = sv_eval(c, t->tests[i])) != 0)
				return r;
		return 0;
	case SV_OP_EXISTS:
		for (i = 0; i < t->pos[0]->n; i++) {
			if ((s = sv_expand_z(c, &t->pos[0]->v[i], &len)) == NULL)
				return -1;
			if ((r = sv_has_header(c, s)) <= 0)
				return r;
		}
		return 1;
	case SV_OP_SIZE:
		if (c->env->msg == NULL)
			return 0;
		return t->over ? pn_msg_size(c->env->msg) > t->number
			       : pn_msg_size(c->env->msg) < t->number;
	case SV_OP_HEADER:
		for (i = 0; i < t->pos[0]->n; i++) {
			if ((s = sv_expand_z(c, &t->pos[0]->v[i], &len)) == NULL)
				return -1;
			if (sv_header_values(c, s, &v) < 0) {
				sv_vals_free(&v);
				return -1;
			}
		}
		break;
	case SV_OP_ADDRESS:
		for (i = 0; i < t->pos[0]->n; i++) {
			if ((s = sv_expand_z(c, &t->pos[0]->v[i], &len)) == NULL)
				return -1;
			if (!sv_address_header(s)) {
				sv_vals_free(&v);
				return sv_rt_error(c, "header \"%s\" is not known to contain addresses", s);
			}
			if (sv_address_values(c, t, s, &v) < 0) {
				sv_vals_free(&v);
				return -1;
			}
		}
		break;
	case SV_OP_ENVELOPE:
		for (i = 0; i < t->pos[0]->n; i++) {
			if ((s = sv_expand_z(c, &t->pos[0]->v[i], &len)) == NULL)
				return -1;
			envelope_values(c, t, s, &v);
		}
		break;
	case SV_OP_STRING:
		for (i = 0; i < t->pos[0]->n; i++) {
			s = sv_expand(c, &t->pos[0]->v[i], &len);
			if (t->m.match == SV_MATCH_COUNT && len == 0)
				continue;	/* RFC 5229: :count counts non-empty strings */
			sv_vals_add(&v, s, len);
		}
		break;
	case SV_OP_ENVIRONMENT:
		if ((s = sv_expand_z(c, &t->pos[0]->v[0], &len)) == NULL)
			return -1;
		if ((s = sv_env_item(c, s)) == NULL)
			return 0;
		sv_vals_add(&v, s, strlen(s));
		break;
	case SV_OP_BODY:
		if (body_values(c, t, &v) < 0) {
			sv_vals_free(&v);
			return -1;
		}
		r = sv_match_values(c, t, &v, t->pos[0]);
		sv_vals_free(&v);
		return r;
	default:
		return sv_rt_error(c, "unexpected test (internal)");
	}
	r = sv_match_values(c, t, &v, t->pos[1]);
	sv_vals_free(&v);
	return r;
}

/* ---- result ------------------------------------------------------------- */

/* delivers - the action puts the message somewhere */
static int delivers(sv_act_type t)
{
	return t == SV_ACT_KEEP || t == SV_ACT_FILEINTO || t == SV_ACT_REDIRECT;
}

/* count_actions - actions other than header edits */
static unsigned count_actions(const sv_result *r)
{
	size_t i;
	unsigned n = 0;

	for (i = 0; i < r->nacts; i++)
		if (r->acts[i].type != SV_ACT_ADDHEADER && r->acts[i].type != SV_ACT_DELETEHEADER)
			n++;
	return n;
}

/* sv_add_action - append unless identical to an earlier one; checks conflicts */
int sv_add_action(sv_ctx *c, sv_act_type type, const char *arg, size_t arglen, int copy)
{
	sv_result *r = c->r;
	size_t i;
	sv_action *a;

	/* RFC 5228 2.10.3 and 4.1: INBOX, in any letter case, is where keep
	 * delivers, and a message goes at most once into one mailbox */
	if (type == SV_ACT_FILEINTO && arglen == 5 && strncasecmp(arg, "INBOX", 5) == 0) {
		type = SV_ACT_KEEP;
		arg = NULL;
		arglen = 0;
	}
	for (i = 0; i < r->nacts; i++) {
		const sv_action *x = &r->acts[i];
		int rej = type == SV_ACT_REJECT || type == SV_ACT_EREJECT;
		int xrej = x->type == SV_ACT_REJECT || x->type == SV_ACT_EREJECT;

		if (rej && xrej)
			return sv_rt_error(c, "more than one reject or ereject");
		if ((rej && delivers(x->type)) || (xrej && delivers(type)))
			return sv_rt_error(c, "reject/ereject conflicts with %s (line %d): a rejected "
					"message cannot also be delivered",
					x->type == SV_ACT_KEEP || type == SV_ACT_KEEP ? "keep"
					: x->type == SV_ACT_FILEINTO || type == SV_ACT_FILEINTO
					? "fileinto" : "redirect", x->line);
	}
	for (i = 0; i < r->nacts; i++) {
		const sv_action *x = &r->acts[i];
		if (x->type != type)
			continue;
		if (type == SV_ACT_KEEP || type == SV_ACT_DISCARD)
			return SV_EXEC_OK;
		if (type == SV_ACT_FILEINTO && strlen(x->arg) == arglen
		    && memcmp(x->arg, arg, arglen) == 0)
			return SV_EXEC_OK;
		if (type == SV_ACT_REDIRECT && strlen(x->arg) == arglen
		    && strncasecmp(x->arg, arg, arglen) == 0)
			return SV_EXEC_OK;
	}
	if (count_actions(r) >= c->lim->max_actions)
		return sv_rt_error(c, "more than %u actions", c->lim->max_actions);
	if (type == SV_ACT_REDIRECT && r->redirects >= c->lim->max_redirects)
		return sv_rt_error(c, "more than %u redirects", c->lim->max_redirects);
	if (r->nacts == r->acap) {
		r->acap = r->acap ? r->acap * 2 : 8;
		r->acts = pn_realloc(r->acts, r->acap * sizeof(*r->acts));
	}
	a = &r->acts[r->nacts++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->arg = arg ? pn_memdup0(arg, arglen) : NULL;
	a->copy = copy;
	a->script = c->s->name;
	a->line = c->line;
	if (type == SV_ACT_REDIRECT)
		r->redirects++;
	if (type == SV_ACT_KEEP)
		r->explicit_keep = 1;
	return SV_EXEC_OK;
}

/* ---- header edits ------------------------------------------------------- */

/* protected_header - fields no script may delete: the trace (RFC 5293 section 6) */
static int protected_header(const char *name)
{
	return strcasecmp(name, "received") == 0;
}

/* needs_encoding - value holds bytes that are not printable ASCII */
static int needs_encoding(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] >= 0x7f)
			return 1;
	return 0;
}

/* sv_header_value - a value safe for a header: folded line ends, RFC 2047 for 8-bit */
char *sv_header_value(const char *v, size_t len)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	if (needs_encoding(v, len)) {
		/* one encoded-word per up to 45 bytes, cut on characters */
		static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t pos = 0;
		char *flat = pn_malloc(len + 1);
		size_t fl = 0;

		for (i = 0; i < len; i++)
			if (v[i] != '\r' && v[i] != '\n')
				flat[fl++] = v[i];
		while (pos < fl) {
			size_t n = fl - pos > 45 ? 45 : fl - pos, j;
			while (n < fl - pos && n > 0 && ((unsigned char)flat[pos + n] & 0xc0) == 0x80)
				n--;
			if (n == 0)
				n = fl - pos > 45 ? 45 : fl - pos;
			if (pos)
				pn_buf_puts(&b, "\n ");
			pn_buf_puts(&b, "=?UTF-8?B?");
			for (j = 0; j < n; j += 3) {
				unsigned x = (unsigned char)flat[pos + j] << 16;
				if (j + 1 < n)
					x |= (unsigned)(unsigned char)flat[pos + j + 1] << 8;
				if (j + 2 < n)
					x |= (unsigned char)flat[pos + j + 2];
				pn_buf_putc(&b, b64[(x >> 18) & 63]);
				pn_buf_putc(&b, b64[(x >> 12) & 63]);
				pn_buf_putc(&b, j + 1 < n ? b64[(x >> 6) & 63] : '=');
				pn_buf_putc(&b, j + 2 < n ? b64[x & 63] : '=');
			}
			pn_buf_puts(&b, "?=");
			pos += n;
		}
		pn_free(flat);
		return pn_buf_steal(&b, NULL);
	}
	for (i = 0; i < len; i++) {
		char ch = v[i];
		if (ch == '\r')
			continue;
		if (ch == '\n') {
			if (i + 1 >= len)
				break;
			pn_buf_putc(&b, '\n');
			if (v[i + 1] != ' ' && v[i + 1] != '\t')
				pn_buf_putc(&b, ' ');
			continue;
		}
		if ((unsigned char)ch < 0x20 && ch != '\t')
			ch = ' ';
		pn_buf_putc(&b, ch);
	}
	return pn_buf_steal(&b, NULL);
}

/* hdr_insert - add a field to the view: at the top (the latest first) or last */
static void hdr_insert(sv_result *r, const char *name, char *value, int top)
{
	size_t at = top ? 0 : r->nhdrs;

	if (r->nhdrs == r->hcap) {
		r->hcap = r->hcap ? r->hcap * 2 : 8;
		r->hdrs = pn_realloc(r->hdrs, r->hcap * sizeof(*r->hdrs));
	}
	memmove(&r->hdrs[at + 1], &r->hdrs[at], (r->nhdrs - at) * sizeof(*r->hdrs));
	r->hdrs[at].name = pn_strdup(name);
	r->hdrs[at].value = value;
	r->hdrs[at].decoded = NULL;
	r->hdrs[at].orig = -1;
	r->hdrs[at].top = top;
	r->nhdrs++;
	r->ntop += top != 0;
}

/* edit_budget - count one header edit */
static int edit_budget(sv_ctx *c)
{
	if (c->r->edits >= c->lim->max_header_edits)
		return sv_rt_error(c, "more than %u header edits", c->lim->max_header_edits);
	c->r->edits++;
	return 0;
}

/* cmd_addheader - addheader [:last] name value (RFC 5293) */
static int cmd_addheader(sv_ctx *c, const sv_node *n)
{
	size_t nlen, vlen;
	const char *name = sv_expand_z(c, &n->pos[0]->v[0], &nlen);
	const char *value;
	sv_action *a;

	if (name == NULL || (value = sv_expand_z(c, &n->pos[1]->v[0], &vlen)) == NULL)
		return SV_EXEC_ERR;
	if (!sv_header_name_valid(name, nlen))
		return sv_rt_error(c, "addheader: invalid header name \"%s\"", name);
	if (edit_budget(c) < 0)
		return SV_EXEC_ERR;
	hdr_insert(c->r, name, sv_header_value(value, vlen), !n->last);
	if (c->r->nacts == c->r->acap) {
		c->r->acap = c->r->acap ? c->r->acap * 2 : 8;
		c->r->acts = pn_realloc(c->r->acts, c->r->acap * sizeof(*c->r->acts));
	}
	a = &c->r->acts[c->r->nacts++];
	memset(a, 0, sizeof(*a));
	a->type = SV_ACT_ADDHEADER;
	a->arg = pn_strdup(name);
	a->value = pn_memdup0(value, vlen);
	a->last = n->last;
	a->script = c->s->name;
	a->line = c->line;
	return SV_EXEC_OK;
}

/* cmd_deleteheader - deleteheader [:index N [:last]] [match] name [patterns] */
static int cmd_deleteheader(sv_ctx *c, const sv_node *n)
{
	size_t nlen, i, total = 0, occ = 0, deleted = 0, nv;
	const char *name = sv_expand_z(c, &n->pos[0]->v[0], &nlen);
	sv_result *r = c->r;
	unsigned char *del;
	sv_action *a;
	vfield f;

	if (name == NULL)
		return SV_EXEC_ERR;
	if (!sv_header_name_valid(name, nlen))
		return sv_rt_error(c, "deleteheader: invalid header name \"%s\"", name);
	if (protected_header(name))
		return SV_EXEC_OK;
	if (edit_budget(c) < 0)
		return SV_EXEC_ERR;
	nv = view_size(r);
	if (scan_cost(c) < 0)
		return SV_EXEC_ERR;
	for (i = 0; i < nv; i++)
		total += view_at(r, i, &f) && strcasecmp(f.name, name) == 0;
	/* every field deleted costs a step (and a milter request later) */
	del = pn_calloc(nv + 1, 1);
	for (i = 0; i < nv; i++) {
		size_t k;

		if (!view_at(r, i, &f) || strcasecmp(f.name, name) != 0)
			continue;
		occ++;
		k = n->last ? total - occ + 1 : occ;
		if (n->number && k != n->number)
			continue;
		if (n->pos[1]) {
			sv_vals v;
			int m;

			memset(&v, 0, sizeof(v));
			field_value(&f, &v);
			m = sv_match_values(c, n, &v, n->pos[1]);
			sv_vals_free(&v);
			if (m < 0) {
				pn_free(del);
				return SV_EXEC_ERR;
			}
			if (!m)
				continue;
		}
		if (sv_step(c) < 0) {
			pn_free(del);
			return SV_EXEC_ERR;
		}
		del[i] = 1;
	}
	for (i = nv; i-- > 0;) {
		size_t at;

		if (!del[i])
			continue;
		deleted++;
		if (i >= r->ntop && i - r->ntop < r->norig) {
			if (r->deleted == NULL)
				r->deleted = pn_calloc(r->norig + 1, 1);
			r->deleted[i - r->ntop] = 1;
			continue;
		}
		at = i < r->ntop ? i : i - r->norig;
		pn_free(r->hdrs[at].name);
		pn_free(r->hdrs[at].value);
		pn_free(r->hdrs[at].decoded);
		memmove(&r->hdrs[at], &r->hdrs[at + 1], (r->nhdrs - at - 1) * sizeof(*r->hdrs));
		r->nhdrs--;
		if (at < r->ntop)
			r->ntop--;
	}
	pn_free(del);
	if (deleted == 0)
		return SV_EXEC_OK;
	if (r->nacts == r->acap) {
		r->acap = r->acap ? r->acap * 2 : 8;
		r->acts = pn_realloc(r->acts, r->acap * sizeof(*r->acts));
	}
	a = &r->acts[r->nacts++];
	memset(a, 0, sizeof(*a));
	a->type = SV_ACT_DELETEHEADER;
	a->arg = pn_strdup(name);
	a->count = (unsigned)deleted;
	a->script = c->s->name;
	a->line = c->line;
	return SV_EXEC_OK;
}

/* ---- commands ----------------------------------------------------------- */


/* valid_folder - a folder name a delivery agent can take */
static int valid_folder(const char *f, size_t len)
{
	size_t i;

	if (len == 0 || len > 1024 || strlen(f) != len)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
			return 0;
	return 1;
}

/* exec_one - one command */
static int exec_one(sv_ctx *c, const sv_node *n)
{
	size_t len;
	const char *s;
	int r;

	c->line = n->line;
	if (sv_step(c) < 0)
		return SV_EXEC_ERR;
	if (n->run)
		return n->run(c, n);		/* an extension's command */
	switch (n->op) {
	case SV_OP_REQUIRE:
		return SV_EXEC_OK;
	case SV_OP_STOP:
		return SV_EXEC_STOP;
	case SV_OP_KEEP:
		r = sv_add_action(c, SV_ACT_KEEP, NULL, 0, 0);
		c->r->implicit_keep = 0;
		return r == SV_EXEC_OK ? sv_flags_action(c, n, SV_ACT_KEEP, NULL) : r;
	case SV_OP_DISCARD:
		r = sv_add_action(c, SV_ACT_DISCARD, NULL, 0, 0);
		c->r->implicit_keep = 0;
		return r;
	case SV_OP_REDIRECT: {
		pn_addr a;
		char *err = NULL;

		if ((s = sv_expand_z(c, &n->pos[0]->v[0], &len)) == NULL)
			return SV_EXEC_ERR;
		if (len == 0 || pn_addr_parse_path(s, &a, &err) < 0 || a.address[0] == '\0') {
			r = sv_rt_error(c, "redirect: invalid address \"%s\"%s%s", s, err ? ": " : "",
				     err ? err : "");
			pn_free(err);
			return r;
		}
		r = sv_add_action(c, SV_ACT_REDIRECT, a.address, strlen(a.address), n->copy);
		pn_addr_clear(&a);
		if (!n->copy)
			c->r->implicit_keep = 0;
		return r;
	}
	case SV_OP_FILEINTO:
		if ((s = sv_expand_z(c, &n->pos[0]->v[0], &len)) == NULL)
			return SV_EXEC_ERR;
		if (!valid_folder(s, len))
			return sv_rt_error(c, "fileinto: invalid folder name \"%s\"", s);
		r = sv_add_action(c, SV_ACT_FILEINTO, s, len, n->copy);
		if (!n->copy)
			c->r->implicit_keep = 0;
		return r == SV_EXEC_OK ? sv_flags_action(c, n, SV_ACT_FILEINTO, s) : r;
	case SV_OP_REJECT:
	case SV_OP_EREJECT:
		s = sv_expand(c, &n->pos[0]->v[0], &len);
		r = sv_add_action(c, n->op == SV_OP_REJECT ? SV_ACT_REJECT : SV_ACT_EREJECT, s, len, 0);
		c->r->implicit_keep = 0;
		return r;
	case SV_OP_SET:
		return cmd_set(c, n);
	case SV_OP_ADDHEADER:
		return cmd_addheader(c, n);
	case SV_OP_DELETEHEADER:
		return cmd_deleteheader(c, n);
	default:
		return sv_rt_error(c, "unexpected command (internal)");
	}
}

/* sv_exec_block - a list of commands, with if/elsif/else chains */
int sv_exec_block(sv_ctx *c, const sv_node *n)
{
	int taken = 0, r;

	for (; n; n = n->next) {
		if (n->op == SV_OP_IF || n->op == SV_OP_ELSIF || n->op == SV_OP_ELSE) {
			if (n->op == SV_OP_IF)
				taken = 0;
			if (taken)
				continue;
			c->line = n->line;
			if (n->op != SV_OP_ELSE) {
				if (sv_step(c) < 0)
					return SV_EXEC_ERR;
				if ((r = sv_eval(c, n->tests[0])) < 0)
					return SV_EXEC_ERR;
				if (!r)
					continue;
			}
			taken = 1;
			if ((r = sv_exec_block(c, n->block)) != SV_EXEC_OK)
				return r;
			continue;
		}
		if ((r = exec_one(c, n)) != SV_EXEC_OK)
			return r;
	}
	return SV_EXEC_OK;
}

/* ---- public ------------------------------------------------------------- */

/* action_free - what one action holds */
static void action_free(sv_action *a)
{
	pn_free(a->arg);
	pn_free(a->value);
	pn_free(a->flags);
	if (a->send)
		sv_send_free(a->send);
}

/* free_view - release the fields scripts added */
static void free_view(sv_result *r)
{
	size_t i;

	for (i = 0; i < r->nhdrs; i++) {
		pn_free(r->hdrs[i].name);
		pn_free(r->hdrs[i].value);
		pn_free(r->hdrs[i].decoded);
	}
	r->nhdrs = r->ntop = 0;
}

/* sv_result_init - an empty result for message m */
void sv_result_init(sv_result *r, const pn_msg *m)
{
	memset(r, 0, sizeof(*r));
	r->implicit_keep = 1;
	r->msg = m;
	r->norig = m ? m->nheaders : 0;
}

/* saved - what a run may change in a result, to undo its actions on error */
typedef struct saved {
	size_t nacts, nmarks;
	int implicit_keep, explicit_keep;
	unsigned redirects, edits;
	int edits_saved;	/* the script may edit: the view below was saved */
	sv_hdr *hdrs;
	size_t nhdrs, ntop;
	unsigned char *deleted;
} saved;

/* save - remember the result before a run; the header view only when the
 * script can edit it (the added fields are few: max_header_edits) */
static void save(const sv_result *r, const sv_script *s, saved *sv)
{
	size_t i;

	memset(sv, 0, sizeof(*sv));
	sv->nacts = r->nacts;
	sv->nmarks = r->nmarks;
	sv->implicit_keep = r->implicit_keep;
	sv->explicit_keep = r->explicit_keep;
	sv->redirects = r->redirects;
	sv->edits = r->edits;
	if (!s->uses_edits)
		return;
	sv->edits_saved = 1;
	sv->nhdrs = r->nhdrs;
	sv->ntop = r->ntop;
	sv->hdrs = pn_malloc((r->nhdrs + 1) * sizeof(*sv->hdrs));
	for (i = 0; i < r->nhdrs; i++) {
		sv->hdrs[i] = r->hdrs[i];
		sv->hdrs[i].name = pn_strdup(r->hdrs[i].name);
		sv->hdrs[i].value = pn_strdup(r->hdrs[i].value);
		sv->hdrs[i].decoded = NULL;	/* the cache is rebuilt on demand */
	}
	if (r->deleted)
		sv->deleted = (unsigned char *)pn_memdup0(r->deleted, r->norig + 1);
}

/* restore - undo a failed run: its actions go, the implicit keep comes back */
static void restore(sv_result *r, saved *sv)
{
	size_t i;

	for (i = sv->nacts; i < r->nacts; i++)
		action_free(&r->acts[i]);
	r->nacts = sv->nacts;
	r->nmarks = sv->nmarks;
	r->implicit_keep = 1;
	r->explicit_keep = sv->explicit_keep;
	r->redirects = sv->redirects;
	r->edits = sv->edits;
	if (!sv->edits_saved)
		return;
	free_view(r);
	pn_free(r->hdrs);
	r->hdrs = sv->hdrs;
	r->nhdrs = r->hcap = sv->nhdrs;
	r->ntop = sv->ntop;
	if (r->hcap == 0) {
		pn_free(r->hdrs);
		r->hdrs = NULL;
	}
	pn_free(r->deleted);
	r->deleted = sv->deleted;
	sv->hdrs = NULL;
	sv->deleted = NULL;
}

/* forget - drop a saved state that was not needed */
static void forget(saved *sv)
{
	size_t i;

	for (i = 0; sv->hdrs && i < sv->nhdrs; i++) {
		pn_free(sv->hdrs[i].name);
		pn_free(sv->hdrs[i].value);
		pn_free(sv->hdrs[i].decoded);
	}
	pn_free(sv->hdrs);
	pn_free(sv->deleted);
}

/* sv_run - run a script for one recipient into r */
int sv_run(const sv_script *s, const sv_env *env, sv_result *r)
{
	sv_ctx c;
	saved sv;
	size_t i;
	int rc;

	if (r->error)
		return -1;
	if (r->stopped)
		return 1;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.env = env;
	c.r = r;
	c.lim = env->limits ? env->limits : &s->limits;
	c.steps = c.lim->max_steps;
	save(r, s, &sv);
	rc = sv_exec_block(&c, s->first);
	if (rc == SV_EXEC_RETURN || rc == SV_EXEC_BREAK)
		rc = SV_EXEC_OK;	/* return at the top ends the script */
	if (rc == SV_EXEC_STOP)
		r->stopped = 1;
	if (rc == SV_EXEC_ERR)
		restore(r, &sv);
	else
		sv_flags_finish(&c);
	forget(&sv);
	pn_free(c.flags);
	for (i = 0; i < c.nvars; i++) {
		pn_free(c.vars[i].name);
		pn_free(c.vars[i].val);
	}
	pn_free(c.vars);
	sv_captures_clear(&c.caps);
	for (i = 0; c.addr_cache && i < r->norig; i++)
		pn_addr_list_free(c.addr_cache[i]);
	pn_free(c.addr_cache);
	pn_addr_clear(&c.env_view[0]);
	pn_addr_clear(&c.env_view[1]);
	for (i = 0; i < c.ntmp; i++)
		pn_free(c.tmp[i]);
	pn_free(c.tmp);
	return rc == SV_EXEC_ERR ? -1 : rc == SV_EXEC_STOP ? 1 : 0;
}

/* sv_result_drop_view - forget the header edits once they were read */
void sv_result_drop_view(sv_result *r)
{
	free_view(r);
	pn_free(r->hdrs);
	r->hdrs = NULL;
	r->hcap = 0;
	pn_free(r->deleted);
	r->deleted = NULL;
}

/* sv_result_keeps - the message stays with the recipient */
int sv_result_keeps(const sv_result *r)
{
	return r->implicit_keep || r->explicit_keep;
}

/* print_quoted - a string in Sieve quoting */
static void print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s != '\r')
			fputc(*s, out);
	}
	fputc('"', out);
}

/* print_flags - " :flags [\"a\", \"b\"]" for a flag set, nothing for none */
static void print_flags(FILE *out, const char *set)
{
	const char *p = set;

	if (set == NULL || *set == '\0')
		return;
	fputs(" :flags [", out);
	while (*p) {
		const char *e = strchr(p, ' ');
		char *one = e ? pn_strndup(p, (size_t)(e - p)) : pn_strdup(p);
		if (p != set)
			fputs(", ", out);
		print_quoted(out, one);
		pn_free(one);
		p = e ? e + 1 : p + strlen(p);
	}
	fputc(']', out);
}

/* sv_result_print - the actions in the stable text form */
void sv_result_print(const sv_result *r, FILE *out)
{
	size_t i;

	for (i = 0; i < r->nacts; i++) {
		const sv_action *a = &r->acts[i];
		switch (a->type) {
		case SV_ACT_KEEP:
			fputs("keep", out);
			print_flags(out, a->flags);
			break;
		case SV_ACT_FILEINTO:
			fputs("fileinto", out);
			print_flags(out, a->flags);
			fputc(' ', out);
			print_quoted(out, a->arg);
			break;
		case SV_ACT_REDIRECT:
			fputs("redirect ", out);
			print_quoted(out, a->arg);
			break;
		case SV_ACT_DISCARD:
			fputs("discard", out);
			break;
		case SV_ACT_REJECT:
		case SV_ACT_EREJECT:
			fputs(a->type == SV_ACT_REJECT ? "reject " : "ereject ", out);
			print_quoted(out, a->arg);
			break;
		case SV_ACT_ADDHEADER:
			fputs(a->last ? "addheader :last " : "addheader ", out);
			print_quoted(out, a->arg);
			fputc(' ', out);
			print_quoted(out, a->value);
			break;
		case SV_ACT_DELETEHEADER:
			fputs("deleteheader ", out);
			print_quoted(out, a->arg);
			fprintf(out, " %u", a->count);
			break;
		case SV_ACT_VACATION:
		case SV_ACT_NOTIFY:
			sv_send_print(out, a);
			break;
		}
		fputc('\n', out);
	}
	if (r->implicit_keep && !r->explicit_keep) {
		fputs("keep", out);
		print_flags(out, r->keep_flags);
		fputc('\n', out);
	}
}

/* sv_result_clear - free everything the result holds */
void sv_result_clear(sv_result *r)
{
	size_t i;

	for (i = 0; i < r->nacts; i++)
		action_free(&r->acts[i]);
	pn_free(r->acts);
	pn_free(r->marks);
	pn_free(r->keep_flags);
	free_view(r);
	pn_free(r->hdrs);
	pn_free(r->deleted);
	pn_free(r->error);
	memset(r, 0, sizeof(*r));
}
