/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_vacation - vacation (RFC 5230) and vacation-seconds (RFC 6131)
 *
 * The vacation command records an SV_ACT_VACATION action whose sv_send
 * (sieve.h) holds everything the engine needs to compose the reply: the
 * envelope sender it goes to, the reason, :subject, :from, :mime, the
 * interval (:days or :seconds; at least one day, as Pigeonhole's
 * sieve_vacation_min_period default, and at most ten years where
 * Pigeonhole has no bound), the
 * In-Reply-To/References of the message, and the response memory key
 * (SHA-256 of recipient, sender and handle: no address is stored in
 * clear). Whether a reply was already sent in the interval is the
 * engine's question (sort_store_claim() at submission), as in Pigeonhole
 * where the check happens when the result is executed.
 *
 * The RFC 3834 and RFC 5230 section 4.5/4.6 refusals are decided here,
 * at run time, so `postern-sort test` shows them: the action is still
 * recorded (Pigeonhole lists it too) with sv_send.refused naming the
 * reason, and the engine sends nothing for it. sv_auto_refusal() is
 * shared with notify (sieve_ext_notify.c).
 */
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "milters/sort/sieve_int.h"

#define DAY 86400L
#define SV_VACATION_MIN DAY		/* Pigeonhole: sieve_vacation_min_period */
#define SV_VACATION_MAX (3650 * DAY)	/* Pigeonhole has none; ten years */
#define SV_VACATION_DEFAULT (7 * DAY)	/* sieve_vacation_default_period */
#define MAX_ADDRESSES 64		/* :addresses entries looked at */
#define MAX_REFS 20			/* message IDs carried in References */

/* what validation learnt about one vacation command */
typedef struct vac_node {
	int has_period, seconds_tag;
	unsigned long long period;
	const sv_string *subject, *from, *handle;
	const sv_strlist *addresses;
	int mime;
} vac_node;

static vac_node *vac_of(sv_node *n)
{
	if (n->ext == NULL) {
		n->ext = pn_calloc(1, sizeof(vac_node));
		n->ext_free = pn_free;
	}
	return n->ext;
}

/* ---- validation ------------------------------------------------------- */

/* twice - a tag given a second time */
static int twice(sv_parser *P, const sv_arg *a, int seen)
{
	if (seen)
		return sv_perr(P, a->line, a->col, "tag \":%s\" given twice", a->tag);
	return 0;
}

/* sv_vacation_from_valid - :from is one address (display name allowed) */
int sv_vacation_from_valid(const char *s, size_t len)
{
	pn_addr_list *l;
	int ok;

	if (len == 0 || strlen(s) != len || strpbrk(s, "\r\n") != NULL)
		return 0;
	l = pn_addr_parse_list(s, 4);
	ok = l && l->count == 1 && l->errors == 0 && l->items[0].domain[0] != '\0'
	     && l->items[0].group == NULL;
	pn_addr_list_free(l);
	return ok;
}

int sv_vacation_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;
	vac_node *vn = vac_of(n);
	const char *t = a->tag;

	if (strcmp(t, "days") == 0 || strcmp(t, "seconds") == 0) {
		int secs = t[0] == 's';
		if (secs && sv_need_cap(P, a->line, a->col, SV_CAP_VACATION_SECONDS,
					"tag \":seconds\"") < 0)
			return -1;
		if (vn->has_period)
			return sv_perr(P, a->line, a->col, "\":days\" and \":seconds\" given "
				    "together or twice: one period only");
		if ((v = sv_take_value(P, n, i, SV_ARG_NUMBER, "a number")) == NULL)
			return -1;
		vn->has_period = 1;
		vn->seconds_tag = secs;
		vn->period = v->num;
		return 1;
	}
	if (strcmp(t, "subject") == 0 || strcmp(t, "from") == 0 || strcmp(t, "handle") == 0) {
		const sv_string **slot = t[0] == 's' ? &vn->subject : t[0] == 'f' ? &vn->from
					 : &vn->handle;
		sv_string *s;
		if (twice(P, a, *slot != NULL) < 0
		    || (v = sv_take_value(P, n, i, SV_ARG_LIST, "a string")) == NULL
		    || (s = sv_single_string(P, v, "its value")) == NULL)
			return -1;
		*slot = s;
		return 1;
	}
	if (strcmp(t, "addresses") == 0) {
		if (twice(P, a, vn->addresses != NULL) < 0
		    || (v = sv_take_value(P, n, i, SV_ARG_LIST, "a string list")) == NULL)
			return -1;
		vn->addresses = &v->list;
		return 1;
	}
	if (strcmp(t, "mime") == 0) {
		if (twice(P, a, vn->mime) < 0)
			return -1;
		vn->mime = 1;
		return 1;
	}
	return 0;
}

int sv_vacation_check(sv_parser *P, sv_node *n)
{
	vac_node *vn = vac_of(n);
	size_t k;

	if (vn->from && !vn->from->has_vars && !sv_vacation_from_valid(vn->from->s, vn->from->len))
		return sv_perr(P, vn->from->line, vn->from->col,
			    "vacation :from \"%s\" is not a valid address", vn->from->s);
	if (vn->addresses)
		for (k = 0; k < vn->addresses->n; k++) {
			const sv_string *s = &vn->addresses->v[k];
			if (!s->has_vars && !sv_vacation_from_valid(s->s, s->len))
				return sv_perr(P, s->line, s->col,
					    "vacation :addresses \"%s\" is not a valid address", s->s);
		}
	return 0;
}

/* ---- refusals (RFC 3834 section 2, RFC 5230 sections 4.5 and 4.6) ------ */

/* system_sender - local parts that are programs, never people (RFC 3834
 * section 2 and Pigeonhole's list, plus Mailman's -bounces) */
static int system_sender(const char *local)
{
	size_t n = strlen(local);
	static const char *const whole[] = {"mailer-daemon", "listserv", "majordomo",
					    "postmaster", NULL};
	static const char *const suffix[] = {"-request", "-owner", "-bounces", NULL};
	size_t k;

	for (k = 0; whole[k]; k++)
		if (strcasecmp(local, whole[k]) == 0)
			return 1;
	if (strncasecmp(local, "owner-", 6) == 0)
		return 1;
	for (k = 0; suffix[k]; k++) {
		size_t sl = strlen(suffix[k]);
		if (n > sl && strcasecmp(local + n - sl, suffix[k]) == 0)
			return 1;
	}
	return 0;
}

/* first_word - the value's first token, lower-case compared */
static int first_word_is(const char *v, size_t len, const char *word)
{
	size_t i = 0, wl = strlen(word);

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (len - i < wl || strncasecmp(v + i, word, wl) != 0)
		return 0;
	i += wl;
	return i == len || v[i] == ' ' || v[i] == '\t' || v[i] == ';' || v[i] == '('
	       || v[i] == '\r' || v[i] == '\n';
}

/* sv_auto_refusal - why no automatic message may answer this one, or
 * NULL: Auto-Submitted other than "no" (RFC 3834 section 2, RFC 5436
 * section 2.7); for vacation also Precedence bulk/list/junk and List-*
 * fields (RFC 3834 section 2, RFC 5230 section 4.6) */
const char *sv_auto_refusal(sv_ctx *c, int lists_too)
{
	static const char *const lists[] = {"list-id", "list-help", "list-subscribe",
					    "list-unsubscribe", "list-post", "list-owner",
					    "list-archive", NULL};
	static const char *const prec[] = {"bulk", "list", "junk", NULL};
	sv_vals v;
	const char *why = NULL;
	size_t i, k;

	memset(&v, 0, sizeof(v));
	sv_header_values(c, "auto-submitted", &v);
	for (i = 0; i < v.n && !why; i++)
		if (!first_word_is(v.v[i], v.len[i], "no"))
			why = "the message is Auto-Submitted";
	sv_vals_free(&v);
	if (why || !lists_too)
		return why;
	memset(&v, 0, sizeof(v));
	sv_header_values(c, "precedence", &v);
	for (i = 0; i < v.n && !why; i++)
		for (k = 0; prec[k] && !why; k++)
			if (first_word_is(v.v[i], v.len[i], prec[k]))
				why = "Precedence: bulk, list or junk";
	sv_vals_free(&v);
	for (k = 0; lists[k] && !why; k++)
		if (sv_has_header(c, lists[k]))
			why = "a mailing list message (List-* field)";
	return why;
}

/* same_address - two addr-specs, the domain and local part without case */
static int same_address(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* addressed_to - one of mine is in To, Cc, Bcc or their Resent- forms */
static int addressed_to(sv_ctx *c, char *const *mine, size_t nmine)
{
	static const char *const fields[] = {"to", "cc", "bcc", "resent-to", "resent-cc",
					     "resent-bcc", NULL};
	size_t f, i, j, k;
	int found = 0;

	for (f = 0; fields[f] && !found; f++) {
		sv_vals v;
		memset(&v, 0, sizeof(v));
		sv_header_values(c, fields[f], &v);
		for (i = 0; i < v.n && !found; i++) {
			char *val = pn_memdup0(v.v[i], v.len[i]);
			pn_addr_list *l = pn_addr_parse_list(val, 256);
			for (j = 0; l && j < l->count && !found; j++)
				for (k = 0; k < nmine && !found; k++)
					found = same_address(l->items[j].address, mine[k]);
			pn_addr_list_free(l);
			pn_free(val);
			if (sv_step(c) < 0)
				break;
		}
		sv_vals_free(&v);
	}
	return found;
}

/* ---- the reply's threading fields ------------------------------------- */

/* msgids - the <...> message IDs of a value, at most max, safe characters
 * only (a header that ends up in a reply is written by the sender) */
static void msgids(const char *v, size_t len, pn_buf *out, size_t *count, size_t max)
{
	size_t i = 0;

	while (i < len && *count < max) {
		const char *open = memchr(v + i, '<', len - i), *close;
		size_t k, n;
		int ok = 1;

		if (open == NULL)
			break;
		close = memchr(open, '>', len - (size_t)(open - v));
		if (close == NULL)
			break;
		n = (size_t)(close - open) + 1;
		for (k = 1; k + 1 < n; k++)
			if ((unsigned char)open[k] <= ' ' || (unsigned char)open[k] >= 0x7f
			    || open[k] == '<')
				ok = 0;
		if (ok && n > 2 && n < 250) {
			if (pn_buf_len(out))
				pn_buf_putc(out, ' ');
			pn_buf_append(out, open, n);
			(*count)++;
		}
		i = (size_t)(close - v) + 1;
	}
}

/* threading - In-Reply-To (the Message-ID) and References (RFC 5230
 * section 5.8: the message's References, or In-Reply-To, then its ID) */
static void threading(sv_ctx *c, sv_send *s)
{
	sv_vals v;
	pn_buf id, refs;
	size_t n = 0, i;

	pn_buf_init(&id, 0);
	pn_buf_init(&refs, 0);
	memset(&v, 0, sizeof(v));
	sv_header_values(c, "message-id", &v);
	if (v.n)
		msgids(v.v[0], v.len[0], &id, &n, 1);
	sv_vals_free(&v);
	memset(&v, 0, sizeof(v));
	n = 0;
	sv_header_values(c, "references", &v);
	if (v.n == 0) {
		sv_vals_free(&v);
		memset(&v, 0, sizeof(v));
		sv_header_values(c, "in-reply-to", &v);
	}
	for (i = 0; i < v.n && i < 1; i++)
		msgids(v.v[i], v.len[i], &refs, &n, MAX_REFS - 1);
	sv_vals_free(&v);
	if (pn_buf_len(&id)) {
		if (pn_buf_len(&refs))
			pn_buf_putc(&refs, ' ');
		pn_buf_append(&refs, pn_buf_str(&id), pn_buf_len(&id));
		s->in_reply_to = pn_buf_steal(&id, NULL);
	}
	if (pn_buf_len(&refs))
		s->references = pn_buf_steal(&refs, NULL);
	pn_buf_free(&id);
	pn_buf_free(&refs);
}

/* ---- running ---------------------------------------------------------- */

/* envelope_addr - the sender or recipient, canonical; 0, or -1 (none) */
static int envelope_addr(const char *path, const pn_addr *given, pn_addr *own,
			 const pn_addr **out)
{
	memset(own, 0, sizeof(*own));
	if (given) {
		*out = given;
		return 0;
	}
	if (path == NULL || sv_envelope_address(path, NULL, own) < 0)
		return -1;
	*out = own;
	return 0;
}

/* expand_opt - an optional string argument, copied, or NULL */
static char *expand_opt(sv_ctx *c, const sv_string *s, int *err)
{
	const char *v;
	size_t len;

	if (s == NULL)
		return NULL;
	if ((v = sv_expand_z(c, s, &len)) == NULL) {
		*err = 1;
		return NULL;
	}
	return pn_memdup0(v, len);
}

/* addr_spec - the addr-spec of an address that may carry a display name */
static char *addr_spec(const char *s)
{
	pn_addr_list *l = pn_addr_parse_list(s, 4);
	char *r = NULL;

	if (l && l->count >= 1 && l->items[0].domain[0])
		r = pn_strdup(l->items[0].address);
	pn_addr_list_free(l);
	return r;
}

/* response_key - SHA-256 over recipient, sender and handle */
static void response_key(const char *me, const char *sender, const char *handle,
			 unsigned char key[32])
{
	pn_sha256 *h = pn_sha256_new();
	char *a = pn_strdup(me), *b = pn_strdup(sender), *p;

	for (p = a; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (p = b; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	pn_sha256_update(h, "vacation", 9);
	pn_sha256_update(h, a, strlen(a) + 1);
	pn_sha256_update(h, b, strlen(b) + 1);
	pn_sha256_update(h, handle, strlen(handle));
	pn_sha256_final(h, key);
	pn_sha256_free(h);
	pn_free(a);
	pn_free(b);
}

/* refusal - RFC 3834 and RFC 5230 4.5: why this sender gets no reply */
static const char *refusal(sv_ctx *c, const pn_addr *sender, char *const *mine, size_t nmine)
{
	const char *why;
	size_t k;

	if (sender == NULL || sender->address[0] == '\0')
		return "the null sender";
	if (system_sender(sender->local))
		return "the sender is a program (MAILER-DAEMON, owner-, -request and the like)";
	for (k = 0; k < nmine; k++)
		if (same_address(sender->address, mine[k]))
			return "the sender is the recipient";
	if ((why = sv_auto_refusal(c, 1)) != NULL)
		return why;
	if (!addressed_to(c, mine, nmine))
		return "the recipient is not in To, Cc or Bcc";
	return NULL;
}

int sv_vacation_run(sv_ctx *c, const sv_node *n)
{
	const vac_node *vn = n->ext;
	sv_send *s;
	pn_addr own_from, own_to;
	const pn_addr *sender = NULL, *me = NULL;
	char *mine[MAX_ADDRESSES + 1];
	size_t nmine = 0, k, len;
	const char *reason;
	int err = 0, rc;
	pn_buf addrs;
	sv_vals v;

	for (k = 0; k < c->r->nacts; k++)
		if (c->r->acts[k].type == SV_ACT_VACATION)
			return sv_rt_error(c, "more than one vacation action (line %d)",
					   c->r->acts[k].line);
	if ((reason = sv_expand(c, &n->pos[0]->v[0], &len)) == NULL)
		return SV_EXEC_ERR;
	s = pn_calloc(1, sizeof(*s));
	s->body = pn_memdup0(reason, len);
	s->subject = expand_opt(c, vn->subject, &err);
	s->from = expand_opt(c, vn->from, &err);
	s->handle = expand_opt(c, vn->handle, &err);
	s->mime = vn->mime;
	if (!err && s->from && !sv_vacation_from_valid(s->from, strlen(s->from))) {
		sv_rt_error(c, "vacation :from \"%s\" is not a valid address", s->from);
		err = 1;
	}
	/* RFC 6131 section 2 and RFC 5230 section 4.1: the site's bounds */
	if (!vn->has_period)
		s->seconds = SV_VACATION_DEFAULT;
	else {
		unsigned long long p = vn->period;
		if (!vn->seconds_tag)
			p = p > (unsigned long long)SV_VACATION_MAX / DAY
			    ? (unsigned long long)SV_VACATION_MAX : p * DAY;
		s->seconds = p < (unsigned long long)SV_VACATION_MIN ? SV_VACATION_MIN
			     : p > (unsigned long long)SV_VACATION_MAX ? SV_VACATION_MAX : (long)p;
	}
	envelope_addr(c->env->from, c->env->from_addr, &own_from, &sender);
	envelope_addr(c->env->to, c->env->to_addr, &own_to, &me);
	if (me && me->address[0])
		mine[nmine++] = pn_strdup(me->address);
	pn_buf_init(&addrs, 0);
	if (vn->addresses && !err)
		for (k = 0; k < vn->addresses->n; k++) {
			const char *a = sv_expand_z(c, &vn->addresses->v[k], &len);
			char *spec;
			if (a == NULL) {
				err = 1;
				break;
			}
			if (pn_buf_len(&addrs))
				pn_buf_puts(&addrs, ", ");
			pn_buf_append(&addrs, a, len);
			if ((spec = addr_spec(a)) != NULL && nmine < MAX_ADDRESSES)
				mine[nmine++] = spec;
			else
				pn_free(spec);
			if (sv_step(c) < 0) {
				err = 1;
				break;
			}
		}
	if (pn_buf_len(&addrs))
		s->addresses = pn_buf_steal(&addrs, NULL);
	pn_buf_free(&addrs);
	if (!err) {
		const char *why = refusal(c, sender, mine, nmine);
		if (why)
			s->refused = pn_strdup(why);
		if (sender && sender->address[0])
			s->to = pn_strdup(sender->address);
		if (me && me->address[0])
			s->recipient = pn_strdup(me->address);
		memset(&v, 0, sizeof(v));
		sv_header_values(c, "subject", &v);
		if (v.n)
			s->orig_subject = pn_memdup0(v.v[0], v.len[0]);
		sv_vals_free(&v);
		threading(c, s);
		{
			/* Pigeonhole's default handle: the arguments that
			 * shape the reply (RFC 5230 section 4.2) */
			char *h = s->handle ? pn_strdup(s->handle)
				  : pn_asprintf("%s%s%s%s", s->body,
						s->subject ? s->subject : "<default-subject>",
						s->from ? s->from : "<default-from>",
						s->mime ? "<MIME>" : "<NO-MIME>");
			response_key(s->recipient ? s->recipient : "",
				     s->to ? s->to : "", h, s->key);
			pn_free(h);
		}
	}
	for (k = 0; k < nmine; k++)
		pn_free(mine[k]);
	pn_addr_clear(&own_from);
	pn_addr_clear(&own_to);
	if (err || c->r->error) {
		sv_send_free(s);
		return SV_EXEC_ERR;
	}
	rc = sv_add_action(c, SV_ACT_VACATION, NULL, 0, 0);
	if (rc != SV_EXEC_OK) {
		sv_send_free(s);
		return rc;
	}
	c->r->acts[c->r->nacts - 1].send = s;
	return SV_EXEC_OK;
}

/* ---- printing and freeing --------------------------------------------- */

/* put_quoted - a string in Sieve quoting, up to its first line break
 * when first_line */
static void put_quoted(FILE *out, const char *s, int first_line)
{
	fputc('"', out);
	for (; *s; s++) {
		if (first_line && (*s == '\r' || *s == '\n'))
			break;
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc((unsigned char)*s < ' ' && *s != '\t' ? ' ' : *s, out);
	}
	fputc('"', out);
}

static void put_tag(FILE *out, const char *tag, const char *v)
{
	if (v == NULL)
		return;
	fprintf(out, " :%s ", tag);
	put_quoted(out, v, 0);
}

/* put_list - ", " separated values as a Sieve string list */
static void put_list(FILE *out, const char *tag, const char *v)
{
	const char *p = v;

	if (v == NULL)
		return;
	fprintf(out, " :%s [", tag);
	while (p) {
		const char *e = strstr(p, ", ");
		char *one = pn_strndup(p, e ? (size_t)(e - p) : strlen(p));
		if (p != v)
			fputs(", ", out);
		put_quoted(out, one, 0);
		pn_free(one);
		p = e ? e + 2 : NULL;
	}
	fputc(']', out);
}

void sv_send_print(FILE *out, const sv_action *a)
{
	const sv_send *s = a->send;

	if (s == NULL) {
		fputs(a->type == SV_ACT_VACATION ? "vacation" : "notify", out);
		return;
	}
	if (a->type == SV_ACT_VACATION) {
		fprintf(out, "vacation :seconds %ld", s->seconds);
		put_tag(out, "subject", s->subject);
		put_tag(out, "from", s->from);
		put_tag(out, "handle", s->handle);
		put_list(out, "addresses", s->addresses);
		if (s->mime)
			fputs(" :mime", out);
		fputc(' ', out);
		put_quoted(out, s->body ? s->body : "", 1);
	} else {
		fputs("notify", out);
		put_tag(out, "from", s->from);
		put_tag(out, "importance", s->importance);
		put_tag(out, "message", s->message);
		fputc(' ', out);
		put_quoted(out, s->method ? s->method : "", 0);
	}
	if (s->refused)
		fprintf(out, " # not sent: %s", s->refused);
}

void sv_send_free(struct sv_send *s)
{
	if (s == NULL)
		return;
	pn_free(s->to);
	pn_free(s->from);
	pn_free(s->subject);
	pn_free(s->body);
	pn_free(s->handle);
	pn_free(s->method);
	pn_free(s->importance);
	pn_free(s->message);
	pn_free(s->addresses);
	pn_free(s->in_reply_to);
	pn_free(s->references);
	pn_free(s->orig_subject);
	pn_free(s->recipient);
	pn_free(s->refused);
	pn_free(s);
}
