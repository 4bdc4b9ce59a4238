/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_notify - enotify (RFC 5435) with the mailto method (RFC 5436)
 *
 * notify records an SV_ACT_NOTIFY action whose sv_send (sieve.h) names
 * the mailto recipients (to, cc and bcc of the URI, at most
 * SV_NOTIFY_MAX_RCPT), the subject and body the URI gives, :from,
 * :importance and :message; the engine composes and submits it like a
 * vacation reply (sort_submit.h). Only the mailto method exists:
 * valid_notify_method is true for a well-formed mailto URI with at least
 * one recipient, and notify_method_capability answers "maybe" for
 * "online" (RFC 5436 section 2.5), nothing else. A notification is not
 * sent for a message that is itself Auto-Submitted (RFC 5436 section
 * 2.7): the action stays, with sv_send.refused saying why. A recipient
 * that an earlier notify of the same run already names is not notified
 * twice, and a notify left with none is dropped (RFC 5435 section 3.8,
 * as Pigeonhole does it). Header fields of the URI other than to, cc,
 * bcc, subject and body are ignored (RFC 5436 section 2.2).
 */
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "milters/sort/sieve_int.h"

#define SV_NOTIFY_MAX_RCPT 8		/* recipients of one notification */
#define MAX_URI 2048

typedef struct notify_node {
	const sv_string *from, *importance, *message;
	const sv_strlist *options;
} notify_node;

/* a parsed mailto URI */
typedef struct mailto {
	pn_buf rcpt;		/* addr-specs, ", " between */
	size_t nrcpt;
	char *subject, *body;
} mailto;

static notify_node *nn_of(sv_node *n)
{
	if (n->ext == NULL) {
		n->ext = pn_calloc(1, sizeof(notify_node));
		n->ext_free = pn_free;
	}
	return n->ext;
}

static void mailto_free(mailto *m)
{
	pn_buf_free(&m->rcpt);
	pn_free(m->subject);
	pn_free(m->body);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* pct_decode - RFC 3986 percent-decoding; NULL on a bad escape or a NUL */
static char *pct_decode(const char *s, size_t len)
{
	char *out = pn_malloc(len + 1);
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int h, l;
			if (i + 2 >= len || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0
			    || (h == 0 && l == 0))
				goto bad;
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
bad:
	pn_free(out);
	return NULL;
}

/* add_rcpts - a comma-separated list of addr-specs (already decoded) */
static int add_rcpts(mailto *m, const char *list, const char **why)
{
	pn_addr_list *l;
	size_t k;

	if (list[0] == '\0')
		return 0;
	if (strpbrk(list, "\r\n") != NULL) {
		*why = "a line break in an address";
		return -1;
	}
	l = pn_addr_parse_list(list, SV_NOTIFY_MAX_RCPT + 1);
	if (l == NULL || l->errors) {
		pn_addr_list_free(l);
		*why = "an invalid address";
		return -1;
	}
	for (k = 0; k < l->count; k++) {
		if (l->items[k].domain[0] == '\0') {
			pn_addr_list_free(l);
			*why = "an address without a domain";
			return -1;
		}
		if (++m->nrcpt > SV_NOTIFY_MAX_RCPT) {
			pn_addr_list_free(l);
			*why = "more than 8 recipients";
			return -1;
		}
		if (pn_buf_len(&m->rcpt))
			pn_buf_puts(&m->rcpt, ", ");
		pn_buf_puts(&m->rcpt, l->items[k].address);
	}
	pn_addr_list_free(l);
	return 0;
}

/* mailto_parse - RFC 6068; 0, or -1 with *why */
static int mailto_parse(const char *uri, size_t len, mailto *m, const char **why)
{
	const char *p, *end = uri + len, *q;
	char *to;
	int rc;

	memset(m, 0, sizeof(*m));
	pn_buf_init(&m->rcpt, 0);
	*why = NULL;
	if (len > MAX_URI || strlen(uri) != len) {
		*why = "too long or contains a NUL";
		return -1;
	}
	if (len < 7 || strncasecmp(uri, "mailto:", 7) != 0) {
		*why = "unsupported notification method (only mailto is known)";
		return -1;
	}
	p = uri + 7;
	q = memchr(p, '?', (size_t)(end - p));
	if ((to = pct_decode(p, (size_t)((q ? q : end) - p))) == NULL) {
		*why = "a bad %-escape";
		return -1;
	}
	rc = add_rcpts(m, to, why);
	pn_free(to);
	if (rc < 0)
		return -1;
	while (q && q < end) {
		const char *name = q + 1, *amp = memchr(name, '&', (size_t)(end - name));
		const char *fend = amp ? amp : end;
		const char *eq = memchr(name, '=', (size_t)(fend - name));
		char *hn, *hv;

		q = amp;
		if (eq == NULL) {
			*why = "a header field without \"=\"";
			return -1;
		}
		hn = pct_decode(name, (size_t)(eq - name));
		hv = pct_decode(eq + 1, (size_t)(fend - eq - 1));
		if (hn == NULL || hv == NULL) {
			pn_free(hn);
			pn_free(hv);
			*why = "a bad %-escape";
			return -1;
		}
		rc = 0;
		if (strcasecmp(hn, "to") == 0 || strcasecmp(hn, "cc") == 0
		    || strcasecmp(hn, "bcc") == 0)
			rc = add_rcpts(m, hv, why);
		else if (strcasecmp(hn, "subject") == 0 && m->subject == NULL) {
			m->subject = hv;
			hv = NULL;
		} else if (strcasecmp(hn, "body") == 0 && m->body == NULL) {
			m->body = hv;
			hv = NULL;
		}
		/* RFC 5436 section 2.2: other fields (From, Auto-Submitted,
		 * Received, ...) are ignored */
		pn_free(hn);
		pn_free(hv);
		if (rc < 0)
			return -1;
	}
	if (m->nrcpt == 0) {
		*why = "no recipient";
		return -1;
	}
	return 0;
}

/* ---- validation ------------------------------------------------------- */

int sv_notify_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;
	notify_node *nn = nn_of(n);
	const char *t = a->tag;
	const sv_string **slot = strcmp(t, "from") == 0 ? &nn->from
				 : strcmp(t, "importance") == 0 ? &nn->importance
				 : strcmp(t, "message") == 0 ? &nn->message : NULL;
	sv_string *s;

	if (slot) {
		if (*slot)
			return sv_perr(P, a->line, a->col, "tag \":%s\" given twice", t);
		if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a string")) == NULL
		    || (s = sv_single_string(P, v, "its value")) == NULL)
			return -1;
		*slot = s;
		return 1;
	}
	if (strcmp(t, "options") == 0) {
		if (nn->options)
			return sv_perr(P, a->line, a->col, "tag \":options\" given twice");
		if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a string list")) == NULL)
			return -1;
		nn->options = &v->list;
		return 1;
	}
	return 0;
}

/* importance_valid - "1", "2" or "3" (RFC 5435 section 3.4) */
static int importance_valid(const char *s, size_t len)
{
	return len == 1 && s[0] >= '1' && s[0] <= '3';
}

int sv_notify_check(sv_parser *P, sv_node *n)
{
	notify_node *nn;
	const sv_string *uri;
	mailto m;
	const char *why;
	size_t k;

	/* the tests take any URI: an invalid one is simply false */
	if (n->op != SV_OP_NOTIFY)
		return 0;
	nn = nn_of(n);
	uri = &n->pos[0]->v[0];
	if (!uri->has_vars) {
		if (mailto_parse(uri->s, uri->len, &m, &why) < 0) {
			mailto_free(&m);
			return sv_perr(P, uri->line, uri->col, "invalid notification URI \"%s\": %s",
				    uri->s, why);
		}
		mailto_free(&m);
	}
	if (nn->importance && !nn->importance->has_vars
	    && !importance_valid(nn->importance->s, nn->importance->len))
		return sv_perr(P, nn->importance->line, nn->importance->col,
			    "notify :importance must be \"1\", \"2\" or \"3\", not \"%s\"",
			    nn->importance->s);
	if (nn->from && !nn->from->has_vars && !sv_vacation_from_valid(nn->from->s, nn->from->len))
		return sv_perr(P, nn->from->line, nn->from->col,
			    "notify :from \"%s\" is not a valid address", nn->from->s);
	if (nn->options)
		for (k = 0; k < nn->options->n; k++) {
			const sv_string *o = &nn->options->v[k];
			/* RFC 5435 section 3.5: "name=value" pairs */
			if (!o->has_vars && (o->len == 0 || memchr(o->s, '=', o->len) == NULL
					     || o->s[0] == '='))
				return sv_perr(P, o->line, o->col, "notify :options \"%s\" is not "
					    "of the form name=value", o->s);
		}
	return 0;
}

/* ---- running ---------------------------------------------------------- */

static char *expand_opt(sv_ctx *c, const sv_string *s, int *err)
{
	const char *v;
	size_t len;

	if (s == NULL || *err)
		return NULL;
	if ((v = sv_expand_z(c, s, &len)) == NULL) {
		*err = 1;
		return NULL;
	}
	return pn_memdup0(v, len);
}

/* in_list - addr is one of the ", " separated addresses of list */
static int in_list(const char *list, const char *addr, size_t alen)
{
	const char *p = list;

	while (p && *p) {
		const char *e = strstr(p, ", ");
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == alen && strncasecmp(p, addr, n) == 0)
			return 1;
		p = e ? e + 2 : NULL;
	}
	return 0;
}

/* drop_notified - RFC 5435 section 3.8, as Pigeonhole does it: a
 * recipient an earlier notification of this message already has is
 * not notified twice; returns how many recipients are left */
static size_t drop_notified(sv_ctx *c, sv_send *s)
{
	pn_buf keep;
	const char *p = s->to;
	size_t k, left = 0;

	pn_buf_init(&keep, 0);
	while (p && *p) {
		const char *e = strstr(p, ", ");
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int dup = in_list(pn_buf_len(&keep) ? pn_buf_str(&keep) : "", p, n);
		for (k = 0; k < c->r->nacts && !dup; k++) {
			const sv_action *x = &c->r->acts[k];
			if (x->type == SV_ACT_NOTIFY && x->send && x->send->to)
				dup = in_list(x->send->to, p, n);
		}
		if (!dup) {
			if (pn_buf_len(&keep))
				pn_buf_puts(&keep, ", ");
			pn_buf_append(&keep, p, n);
			left++;
		}
		p = e ? e + 2 : NULL;
	}
	pn_free(s->to);
	s->to = pn_buf_steal(&keep, NULL);
	pn_buf_free(&keep);
	return left;
}

/* test_run - valid_notify_method, notify_method_capability */
static int test_run(sv_ctx *c, const sv_node *n)
{
	const char *v, *why;
	size_t len, k;
	mailto m;
	int ok = 1;

	if (n->op == SV_OP_VALID_NOTIFY_METHOD) {
		for (k = 0; k < n->pos[0]->n && ok; k++) {
			if ((v = sv_expand(c, &n->pos[0]->v[k], &len)) == NULL)
				return -1;
			ok = mailto_parse(v, len, &m, &why) == 0;
			mailto_free(&m);
			if (sv_step(c) < 0)
				return -1;
		}
		return ok;
	}
	if ((v = sv_expand(c, &n->pos[0]->v[0], &len)) == NULL)
		return -1;
	ok = mailto_parse(v, len, &m, &why) == 0;
	mailto_free(&m);
	if (!ok)
		return 0;
	if ((v = sv_expand(c, &n->pos[1]->v[0], &len)) == NULL)
		return -1;
	if (len == 6 && strncasecmp(v, "online", 6) == 0) {
		sv_vals vals;
		int r;
		memset(&vals, 0, sizeof(vals));
		sv_vals_add(&vals, "maybe", 5);
		r = sv_match_values(c, n, &vals, n->pos[2]);
		sv_vals_free(&vals);
		return r;
	}
	return 0;
}

int sv_notify_run(sv_ctx *c, const sv_node *n)
{
	const notify_node *nn = n->ext;
	const char *uri, *why;
	size_t len;
	sv_send *s;
	mailto m;
	int err = 0, rc;

	if (n->op != SV_OP_NOTIFY)
		return test_run(c, n);
	if ((uri = sv_expand(c, &n->pos[0]->v[0], &len)) == NULL)
		return SV_EXEC_ERR;
	if (mailto_parse(uri, len, &m, &why) < 0) {
		mailto_free(&m);
		return sv_rt_error(c, "invalid notification URI \"%.200s\": %s", uri, why);
	}
	s = pn_calloc(1, sizeof(*s));
	s->method = pn_memdup0(uri, len);
	s->to = pn_buf_steal(&m.rcpt, NULL);
	s->subject = m.subject;
	s->body = m.body;
	m.subject = m.body = NULL;
	mailto_free(&m);
	s->from = expand_opt(c, nn ? nn->from : NULL, &err);
	s->importance = expand_opt(c, nn ? nn->importance : NULL, &err);
	s->message = expand_opt(c, nn ? nn->message : NULL, &err);
	if (!err && s->from && !sv_vacation_from_valid(s->from, strlen(s->from))) {
		sv_rt_error(c, "notify :from \"%s\" is not a valid address", s->from);
		err = 1;
	}
	if (!err && s->importance && !importance_valid(s->importance, strlen(s->importance))) {
		sv_rt_error(c, "notify :importance must be \"1\", \"2\" or \"3\", not \"%s\"",
			    s->importance);
		err = 1;
	}
	if (err) {
		sv_send_free(s);
		return SV_EXEC_ERR;
	}
	if (drop_notified(c, s) == 0) {
		sv_send_free(s);
		return SV_EXEC_OK;
	}
	if (c->env->to_addr && c->env->to_addr->address[0])
		s->recipient = pn_strdup(c->env->to_addr->address);
	else if (c->env->to) {
		pn_addr a;
		if (sv_envelope_address(c->env->to, NULL, &a) == 0)
			s->recipient = pn_strdup(a.address);
		pn_addr_clear(&a);
	}
	{
		sv_vals v;
		memset(&v, 0, sizeof(v));
		sv_header_values(c, "subject", &v);
		if (v.n)
			s->orig_subject = pn_memdup0(v.v[0], v.len[0]);
		sv_vals_free(&v);
	}
	if ((why = sv_auto_refusal(c, 0)) != NULL)
		s->refused = pn_strdup(why);
	rc = sv_add_action(c, SV_ACT_NOTIFY, NULL, 0, 0);
	if (rc != SV_EXEC_OK) {
		sv_send_free(s);
		return rc;
	}
	c->r->acts[c->r->nacts - 1].send = s;
	return SV_EXEC_OK;
}
