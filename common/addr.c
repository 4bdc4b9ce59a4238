/* SPDX-License-Identifier: BSD-2-Clause */
/* addr - envelope paths and address-list headers (see addr.h) */
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/domain.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* is_ctl - ASCII control character (never acceptable inside an address) */
static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* is_alnum - ASCII only: isalnum() depends on the locale */
static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* lower - ASCII only, for the same reason */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* pn_domain_lower - lower-cased copy without one trailing dot */
char *pn_domain_lower(const char *domain)
{
	size_t n = strlen(domain), i;
	char *out;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	out = pn_memdup0(domain, n);
	for (i = 0; i < n; i++)
		out[i] = lower(out[i]);
	return out;
}

/* check_literal - validate "[...]" (RFC 5321 4.1.3); NULL when fine */
static const char *check_literal(const char *p, size_t n)
{
	const char *in, *colon;
	size_t len, i;
	unsigned char v6[16];
	char *copy;
	int ok;

	if (n < 2 || p[n - 1] != ']')
		return "unterminated address literal";
	in = p + 1;
	len = n - 2;
	if (len == 0)
		return "empty address literal";
	colon = memchr(in, ':', len);
	if (colon == NULL) {
		copy = pn_memdup0(in, len);
		ok = inet_pton(AF_INET, copy, v6) == 1;
		pn_free(copy);
		return ok ? NULL : "invalid IPv4 address literal";
	}
	if (colon - in == 4 && strncasecmp(in, "IPv6", 4) == 0) {
		copy = pn_memdup0(colon + 1, len - 5);
		ok = inet_pton(AF_INET6, copy, v6) == 1;
		pn_free(copy);
		return ok ? NULL : "invalid IPv6 address literal";
	}
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	if (colon == in || colon == in + len - 1)
		return "invalid address literal";
	for (i = 0; in + i < colon; i++)
		if (!is_alnum((unsigned char)in[i]) && in[i] != '-')
			return "invalid address literal";
	for (i = (size_t)(colon - in) + 1; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return "invalid address literal";
	}
	return NULL;
}

/* is_domain_char - letters, digits, hyphen; "_" and UTF-8 occur in real DNS */
static int is_domain_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c >= 0x80;
}

/* check_domain - validate a domain or address literal; NULL when fine */
static const char *check_domain(const char *p, size_t n)
{
	size_t i, label = 0;

	if (n > 0 && p[0] == '[')
		return check_literal(p, n);
	if (n > 1 && p[n - 1] == '.')
		n--;
	if (n == 0 || (n == 1 && p[0] == '.'))
		return "missing domain";
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (label == 0)
				return "empty label in domain";
			label = 0;
		} else if (is_domain_char((unsigned char)p[i])) {
			label++;
		} else {
			return "invalid character in domain";
		}
	}
	return label == 0 ? "empty label in domain" : NULL;
}

/* set_addr - fill *a from a local part and a domain (domain may be empty) */
static void set_addr(pn_addr *a, const char *local, size_t llen,
		     const char *domain, size_t dlen)
{
	char *d = pn_memdup0(domain, dlen);

	a->local = pn_memdup0(local, llen);
	a->domain = pn_domain_lower(d);
	pn_free(d);
	if (a->domain[0] != '\0')
		a->address = pn_asprintf("%s@%s", a->local, a->domain);
	else
		a->address = pn_strdup(a->local);
}

/* pn_addr_clear - free the fields and leave them NULL */
void pn_addr_clear(pn_addr *a)
{
	if (a == NULL)
		return;
	pn_free(a->display);
	pn_free(a->local);
	pn_free(a->domain);
	pn_free(a->address);
	pn_free(a->group);
	memset(a, 0, sizeof(*a));
}

/*
 * Envelope paths (RFC 5321 4.1.2).
 */

/* is_path_atext - unquoted local-part byte; dots anywhere, as Postfix allows */
static int is_path_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if (c <= ' ' || c == 0x7f)
		return 0;
	return strchr("<>()[]\\,;:@\"", c) == NULL;
}

/* path_error - report a failure to the caller */
static int path_error(char **err, const char *what, int c)
{
	if (err != NULL) {
		if (c > ' ' && c < 0x7f)
			*err = pn_asprintf("%s: '%c'", what, c);
		else
			*err = pn_strdup(what);
	}
	return -1;
}

/* bad_char - name the problem with an unexpected byte */
static int bad_char(char **err, int c, const char *where)
{
	if (c == '<' || c == '>')
		return path_error(err, "unbalanced angle brackets", 0);
	return path_error(err, where, c);
}

/* skip_route - check and skip "@a,@b:"; *q points at the first "@" */
static int skip_route(const char **qp, const char *e, char **err)
{
	const char *q = *qp, *d;
	int first = 1;

	while (q < e && *q == '@') {
		d = ++q;
		while (q < e && (is_domain_char((unsigned char)*q) || *q == '.'))
			q++;
		if (q == e || *q == '>') {
			if (first)
				return path_error(err, "empty local part", 0);
			return path_error(err, "invalid source route", 0);
		}
		if (*q != ',' && *q != ':')
			return path_error(err, "invalid character in source route", *q);
		if (check_domain(d, (size_t)(q - d)) != NULL)
			return path_error(err, "invalid source route", 0);
		first = 0;
		if (*q++ == ':') {
			*qp = q;
			return 0;
		}
	}
	return path_error(err, "invalid source route", 0);
}

/* pn_addr_parse_path - parse a MAIL FROM or RCPT TO argument */
int pn_addr_parse_path(const char *s, pn_addr *out, char **err)
{
	const char *p, *e, *q, *ls, *le, *ds, *de;
	const char *why;
	int bracketed;

	memset(out, 0, sizeof(*out));
	if (err != NULL)
		*err = NULL;
	if (s == NULL)
		return path_error(err, "empty address", 0);
	p = s;
	e = s + strlen(s);
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (q = p; q < e; q++)
		if (is_ctl((unsigned char)*q))
			return path_error(err, "control character in address", 0);
	if (p == e)
		return path_error(err, "empty address", 0);

	q = p;
	bracketed = *q == '<';
	if (bracketed) {
		q++;
		if (q < e && *q == '>') {
			if (q + 1 < e)
				return path_error(err, "unexpected text after address", 0);
			out->local = pn_strdup("");
			out->domain = pn_strdup("");
			out->address = pn_strdup("");
			return 0;
		}
	}
	if (q < e && *q == '@' && skip_route(&q, e, err) < 0)
		return -1;

	/* Local part: the bytes are kept as written, quotes included. */
	ls = q;
	if (q < e && *q == '"') {
		for (q++; q < e && *q != '"'; q++) {
			if (*q == '\\' && ++q == e)
				break;
		}
		if (q == e)
			return path_error(err, "unterminated quoted string", 0);
		q++;
		if (q - ls == 2)
			return path_error(err, "empty local part", 0);
	} else {
		while (q < e && is_path_atext((unsigned char)*q))
			q++;
	}
	le = q;
	if (q == e || *q == '>') {
		if (ls == le)
			return path_error(err, bracketed || q < e ?
					  "unbalanced angle brackets" : "empty address", 0);
		return path_error(err, "missing domain", 0);
	}
	if (*q != '@')
		return bad_char(err, *q, "invalid character in local part");
	if (ls == le)
		return path_error(err, "empty local part", 0);

	ds = ++q;
	if (q < e && *q == '[') {
		while (q < e && *q != ']')
			q++;
		if (q == e)
			return path_error(err, "unterminated address literal", 0);
		q++;
	} else {
		while (q < e && (is_domain_char((unsigned char)*q) || *q == '.'))
			q++;
	}
	de = q;
	if (de == ds && q < e && *q != '>' && *q != ' ')
		return bad_char(err, *q, "invalid character in domain");
	if ((why = check_domain(ds, (size_t)(de - ds))) != NULL)
		return path_error(err, why, 0);
	if (bracketed) {
		if (q == e)
			return path_error(err, "unbalanced angle brackets", 0);
		if (*q != '>')
			return bad_char(err, *q, "invalid character in domain");
		if (++q < e)
			return bad_char(err, *q, "unexpected text after address");
	} else if (q < e) {
		return bad_char(err, *q, *q == ' ' ? "unexpected text after address" :
				"invalid character in domain");
	}
	set_addr(out, ls, (size_t)(le - ls), ds, (size_t)(de - ds));
	return 0;
}

/*
 * Envelope addresses as Postfix sees them: the MTA's own view first,
 * else the path cleaned of what Postfix ignores.
 */

/* strip_cfws - copy of s without comments and white space outside quotes
 *
 * Postfix's address parser (tok822) drops RFC 5322 comments and white
 * space between tokens, so "<a(x)@example.com >" is a@example.com to it.
 * Quoted strings and address literals are copied as written. NULL when a
 * comment or quoted string is not closed.
 */
static char *strip_cfws(const char *s)
{
	size_t n = strlen(s), i, o = 0, depth;
	char *out = pn_malloc(n + 1);

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '"' || c == '[') {
			char close = c == '"' ? '"' : ']';
			out[o++] = s[i++];
			while (i < n && s[i] != close) {
				if (s[i] == '\\' && c == '"' && i + 1 < n)
					out[o++] = s[i++];
				out[o++] = s[i++];
			}
			if (i == n) {
				pn_free(out);
				return NULL;
			}
			out[o++] = s[i];
		} else if (c == '(') {
			for (depth = 1, i++; i < n && depth > 0; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')')
					depth--;
			}
			if (depth > 0) {
				pn_free(out);
				return NULL;
			}
			i--;
		} else if (c != ' ' && c != '\t') {
			out[o++] = c;
		}
	}
	out[o] = '\0';
	return out;
}

/* unquote - a local part in Postfix's internal form: quotes and escapes removed */
static char *unquote(const char *local)
{
	size_t n = strlen(local), i, o = 0;
	char *out = pn_malloc(n + 1);

	for (i = 0; i < n; i++) {
		if (local[i] == '"')
			continue;
		if (local[i] == '\\' && i + 1 < n)
			i++;
		out[o++] = local[i];
	}
	out[o] = '\0';
	return out;
}

/* fill - set out from an internal-form local part and a raw domain; -1 if the domain is bad */
static int fill(pn_addr *out, const char *local, size_t llen, const char *domain, size_t dlen)
{
	char *d = pn_domain_normalise_n(domain, dlen);

	out->local = pn_memdup0(local, llen);
	out->domain = pn_strdup(d ? d : "");
	if (d != NULL)
		out->address = pn_asprintf("%s@%s", out->local, d);
	else
		out->address = pn_strdup(out->local);
	pn_free(d);
	return d != NULL ? 0 : -1;
}

/* from_mta - parse the MTA's {mail_addr}/{rcpt_addr}: "local@domain", local part quoted as needed */
static int from_mta(const char *v, pn_addr *out)
{
	size_t n = strlen(v);
	const char *at, *local = v, *colon;
	char *copy, *bare;
	int rc;

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {	/* Sendmail may keep them */
		local++;
		n -= 2;
	}
	if (memchr(local, '\0', n) != NULL)
		return -1;
	for (at = NULL, colon = local; colon < local + n; colon++)
		if (*colon == '@')
			at = colon;
	if (n == 0) {		/* the null sender */
		out->local = pn_strdup("");
		out->domain = pn_strdup("");
		out->address = pn_strdup("");
		return 0;
	}
	/* "@relay:user@domain": Postfix strips the route when it routes */
	if (local[0] == '@' && (colon = memchr(local, ':', n)) != NULL && colon < at) {
		n -= (size_t)(colon + 1 - local);
		local = colon + 1;
	}
	if (at == NULL || at < local) {
		fill(out, local, n, "", 0);
		return -1;
	}
	/* Postfix quotes a local part that needs it ("\"a b\"@x"): internal form */
	copy = pn_memdup0(local, (size_t)(at - local));
	bare = unquote(copy);
	rc = fill(out, bare, strlen(bare), at + 1, n - (size_t)(at + 1 - local));
	pn_free(bare);
	pn_free(copy);
	return rc;
}

/* is_null_path - "<>" give or take comments and white space */
static int is_null_path(const char *path)
{
	char *clean = strip_cfws(path);
	int null = clean != NULL && strcmp(clean, "<>") == 0;

	pn_free(clean);
	return null;
}

/* pn_addr_parse_envelope - canonical envelope address (see addr.h) */
int pn_addr_parse_envelope(const char *mta_addr, const char *path, pn_addr *out)
{
	pn_addr a;
	char *clean, *local;
	int rc;

	memset(out, 0, sizeof(*out));
	if (mta_addr != NULL) {
		/* an empty value says "null sender"; believe it only when the
		 * path says so too, so that no spelling turns a sender into <> */
		if (from_mta(mta_addr, out) == 0
		    && (out->address[0] != '\0' || path == NULL || is_null_path(path)))
			return 0;
		/* keep what the MTA said unless the path does better */
		if (path == NULL)
			return -1;
		pn_addr_clear(out);
	}
	clean = strip_cfws(path ? path : "");
	if (clean == NULL || pn_addr_parse_path(clean, &a, NULL) < 0) {
		/* a local part alone ("<a%partner.example>"): keep it for relay checks */
		size_t n = clean ? strlen(clean) : 0;
		const char *l = clean ? clean : "";
		if (n >= 2 && l[0] == '<' && l[n - 1] == '>') {
			l++;
			n -= 2;
		}
		local = pn_memdup0(l, n);
		if (strchr(local, '@') != NULL || strchr(local, '<') != NULL || strchr(local, '>') != NULL)
			local[0] = '\0';
		fill(out, local, strlen(local), "", 0);
		pn_free(local);
		pn_free(clean);
		return -1;
	}
	pn_free(clean);
	local = unquote(a.local);
	if (a.domain[0] == '\0') {	/* "<>" */
		out->local = local;
		out->domain = pn_strdup("");
		out->address = pn_strdup("");
		pn_addr_clear(&a);
		return 0;
	}
	rc = fill(out, local, strlen(local), a.domain, strlen(a.domain));
	pn_free(local);
	pn_addr_clear(&a);
	return rc;
}

/* pn_addr_relay_domain - the domain a "%" or "!" route in a local part names */
char *pn_addr_relay_domain(const char *local)
{
	const char *pct, *bang;

	if (local == NULL)
		return NULL;
	if ((pct = strrchr(local, '%')) != NULL)	/* user%d1%d2: next hop d2 */
		return pn_domain_normalise(pct + 1);
	if ((bang = strchr(local, '!')) != NULL)	/* d1!d2!user: next hop d1 */
		return pn_domain_normalise_n(local, (size_t)(bang - local));
	return NULL;
}

/*
 * Address-list headers (RFC 5322 3.4, 4.4). A lexer turns the value into
 * tokens; a parser then groups the tokens into mailboxes. Each lexer step
 * consumes at least one byte, and the parser visits each token once, so
 * garbage costs linear time.
 */

enum tok_type { T_ATOM, T_QSTR, T_LIT, T_COMMENT, T_SPECIAL };

struct tok {
	enum tok_type type;
	char *text;		/* atom/literal as written; qstr/comment decoded */
	char *raw;		/* qstr with its quotes, for a local part */
	int ch;			/* T_SPECIAL: one of <>:;@, */
	int ws;			/* white space or a comment came before */
};

struct toks {
	struct tok *v;
	size_t n, cap;
};

/* is_hws - white space in a header; other controls count as white space */
static int is_hws(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

/* is_special - RFC 5322 specials, except "." which atoms here include */
static int is_special(unsigned char c)
{
	return c != 0 && strchr("()<>[]:;@\\,\"", c) != NULL;
}

/* push - append a token; takes ownership of text and raw */
static void push(struct toks *t, enum tok_type type, char *text, char *raw,
		 int ch, int *ws)
{
	struct tok *k;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = pn_realloc(t->v, t->cap * sizeof(*t->v));
	}
	k = &t->v[t->n++];
	k->type = type;
	k->text = text;
	k->raw = raw;
	k->ch = ch;
	k->ws = *ws;
	*ws = 0;
}

/* collapse - white-space runs to one space, trimmed; NULL when empty */
static char *collapse(const char *s, size_t n)
{
	pn_buf b;
	size_t i;
	int space = 0;

	pn_buf_init(&b, n + 1);
	for (i = 0; i < n; i++) {
		if (is_hws((unsigned char)s[i])) {
			space = 1;
			continue;
		}
		if (space && pn_buf_len(&b) > 0)
			pn_buf_putc(&b, ' ');
		space = 0;
		pn_buf_putc(&b, s[i]);
	}
	if (pn_buf_len(&b) == 0) {
		pn_buf_free(&b);
		return NULL;
	}
	return pn_buf_steal(&b, NULL);
}

/* lex_quoted - quoted string at s[*ip] == '"'; -1 when unterminated */
static int lex_quoted(const char *s, size_t n, size_t *ip, struct toks *t, int *ws)
{
	pn_buf dec, raw;
	size_t i = *ip + 1;

	pn_buf_init(&dec, n + 1);
	pn_buf_init(&raw, n + 3);
	pn_buf_putc(&raw, '"');
	while (i < n && s[i] != '"') {
		char c = s[i];
		if (c == '\\' && i + 1 < n) {
			c = s[i + 1];
			if (c != '\r' && c != '\n') {
				pn_buf_putc(&dec, c);
				pn_buf_putc(&raw, '\\');
				pn_buf_putc(&raw, c);
			}
			i += 2;
			continue;
		}
		/* Unfolding removes CR and LF; a lone trailing backslash goes too. */
		if (c != '\r' && c != '\n' && c != '\\') {
			pn_buf_putc(&dec, c);
			pn_buf_putc(&raw, c);
		}
		i++;
	}
	if (i >= n) {
		pn_buf_free(&dec);
		pn_buf_free(&raw);
		return -1;
	}
	pn_buf_putc(&raw, '"');
	*ip = i + 1;
	push(t, T_QSTR, pn_buf_steal(&dec, NULL), pn_buf_steal(&raw, NULL), 0, ws);
	return 0;
}

/* lex_comment - nested comment at s[*ip] == '('; -1 when unterminated */
static int lex_comment(const char *s, size_t n, size_t *ip, struct toks *t, int *ws)
{
	pn_buf b;
	size_t i = *ip + 1, depth = 1;
	char *text;

	pn_buf_init(&b, n + 1);
	while (i < n) {
		char c = s[i];
		if (c == '\\' && i + 1 < n) {
			pn_buf_putc(&b, s[i + 1]);
			i += 2;
			continue;
		}
		i++;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			break;
		pn_buf_putc(&b, c);
	}
	if (depth > 0) {
		pn_buf_free(&b);
		return -1;
	}
	*ip = i;
	text = collapse(pn_buf_str(&b), pn_buf_len(&b));
	pn_buf_free(&b);
	*ws = 1;
	if (text != NULL) {
		push(t, T_COMMENT, text, NULL, 0, ws);
		*ws = 1;	/* a comment separates like white space */
	}
	return 0;
}

/* lex_literal - domain literal at s[*ip] == '['; -1 when unterminated */
static int lex_literal(const char *s, size_t n, size_t *ip, struct toks *t, int *ws)
{
	const char *close = s + *ip + 1, *end = s + n;
	pn_buf b;
	size_t i;

	/* Stop at the first byte that cannot be inside a literal, so that a
	 * stray "[" in a display name cannot swallow the addresses after it. */
	while (close < end && strchr("[]<>,;\"", *close) == NULL)
		close++;
	if (close == end || *close != ']')
		return -1;
	pn_buf_init(&b, n + 1);
	for (i = *ip; s + i <= close; i++)
		if (!is_hws((unsigned char)s[i]))	/* FWS is allowed inside */
			pn_buf_putc(&b, s[i]);
	*ip = (size_t)(close - s) + 1;
	push(t, T_LIT, pn_buf_steal(&b, NULL), NULL, 0, ws);
	return 0;
}

/* lex - split a header value into tokens */
static void lex(const char *s, size_t n, struct toks *t)
{
	size_t i = 0, j;
	int ws = 0, no_quotes = 0, no_comments = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (is_hws(c)) {
			ws = 1;
			i++;
		} else if (c == '"') {
			/*
			 * An unterminated quote or comment is read as a stray
			 * byte so the rest of the value still parses; later
			 * ones are not retried, which keeps garbage from costing
			 * quadratic time. (A literal's scan stops at the next
			 * "[", so it needs no such guard.)
			 */
			if (no_quotes || lex_quoted(s, n, &i, t, &ws) < 0) {
				no_quotes = 1;
				ws = 1;
				i++;
			}
		} else if (c == '(') {
			if (no_comments || lex_comment(s, n, &i, t, &ws) < 0) {
				no_comments = 1;
				ws = 1;
				i++;
			}
		} else if (c == '[') {
			/* An unterminated literal stays a stray "[" token: it
			 * may be text in a phrase, but it never joins a domain,
			 * so "<a@[192.0.2.1>" is not repaired into a host name. */
			if (lex_literal(s, n, &i, t, &ws) < 0) {
				push(t, T_SPECIAL, NULL, NULL, '[', &ws);
				i++;
			}
		} else if (c == ')' || c == ']' || c == '\\') {
			ws = 1;	/* stray: dropped */
			i++;
		} else if (is_special(c)) {
			push(t, T_SPECIAL, NULL, NULL, c, &ws);
			i++;
		} else {
			for (j = i; j < n && !is_hws((unsigned char)s[j]) &&
			     !is_special((unsigned char)s[j]); j++)
				;
			push(t, T_ATOM, pn_memdup0(s + i, j - i), NULL, 0, &ws);
			i = j;
		}
	}
}

/* toks_free - release every token */
static void toks_free(struct toks *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		pn_free(t->v[i].text);
		pn_free(t->v[i].raw);
	}
	pn_free(t->v);
}

/* parser state: the list being built and the element being collected */
struct lp {
	struct toks *t;
	pn_addr_list *list;
	size_t max;
	int stop;
	char *group;		/* current group name, or NULL */
	size_t *cur;		/* token indexes of the element's phrase/addr-spec */
	size_t ncur, capcur;
	size_t comment;		/* the display comment's index + 1, or 0 */
	size_t *cmts;		/* indexes of the element's comments outside "<>" */
	size_t ncmts, capcmts;
	int angle;		/* an angle address was seen */
	int angle_ok;		/* ... and it was valid */
	int junk;		/* tokens after the angle address */
	pn_addr pending;	/* the angle address */
	size_t item_cap, group_cap;
};

/* is_word - atom or quoted string: what a local part is made of */
static int is_word(const struct tok *k)
{
	return k->type == T_ATOM || k->type == T_QSTR;
}

/* word_text - the token as written in an address */
static const char *word_text(const struct tok *k)
{
	return k->type == T_QSTR ? k->raw : k->text;
}

/* dot_joined - may b follow a in a local part or domain despite white space? */
static int dot_joined(const struct tok *a, const struct tok *b)
{
	const char *at = word_text(a);
	size_t n = strlen(at);

	if (!b->ws)
		return 1;
	/* obs-local-part and obs-domain allow CFWS around the dots */
	return (n > 0 && at[n - 1] == '.') || word_text(b)[0] == '.';
}

/* join_words - concatenate tokens idx[a..b) as written */
static char *join_words(const struct tok *v, const size_t *idx, size_t a, size_t b)
{
	pn_buf buf;
	size_t i;

	pn_buf_init(&buf, 0);
	for (i = a; i < b; i++)
		pn_buf_puts(&buf, word_text(&v[idx[i]]));
	return pn_buf_steal(&buf, NULL);
}

/* join_phrase - display text of tokens idx[a..b), NULL when empty */
static char *join_phrase(const struct tok *v, const size_t *idx, size_t a, size_t b)
{
	pn_buf buf;
	size_t i;
	char *out;

	pn_buf_init(&buf, 0);
	for (i = a; i < b; i++) {
		const struct tok *k = &v[idx[i]];
		if (i > a && k->ws)
			pn_buf_putc(&buf, ' ');
		if (k->type == T_SPECIAL)
			pn_buf_putc(&buf, k->ch);
		else
			pn_buf_puts(&buf, k->text);
	}
	out = collapse(pn_buf_str(&buf), pn_buf_len(&buf));
	pn_buf_free(&buf);
	return out;
}

/* local_ok - do the joined words form an acceptable local part? */
static int local_ok(const char *local)
{
	const char *p;

	if (local[0] == '\0' || strcmp(local, "\"\"") == 0)
		return 0;
	for (p = local; *p; p++)
		if (is_ctl((unsigned char)*p))
			return 0;
	return 1;
}

/* make_addr - address from words idx[ls..at), "@", domain idx[at+1..de) */
static int make_addr(const struct tok *v, const size_t *idx, size_t ls,
		     size_t at, size_t de, pn_addr *out)
{
	/* at == de: no "@", a local part alone; -1: not an address */
	char *local, *domain = NULL;
	size_t i;
	int ok;

	if (ls == at)
		return -1;
	for (i = ls; i < at; i++)
		if (!is_word(&v[idx[i]]) || (i > ls && !dot_joined(&v[idx[i - 1]], &v[idx[i]])))
			return -1;
	if (at < de) {
		if (at + 1 == de)
			return -1;
		if (v[idx[at + 1]].type == T_LIT) {
			if (at + 2 != de)
				return -1;
		} else {
			for (i = at + 1; i < de; i++)
				if (v[idx[i]].type != T_ATOM ||
				    (i > at + 1 && !dot_joined(&v[idx[i - 1]], &v[idx[i]])))
					return -1;
		}
		domain = join_words(v, idx, at + 1, de);
		if (check_domain(domain, strlen(domain)) != NULL) {
			pn_free(domain);
			return -1;
		}
	}
	local = join_words(v, idx, ls, at);
	ok = local_ok(local);
	if (ok)
		set_addr(out, local, strlen(local), domain ? domain : "",
			 domain ? strlen(domain) : 0);
	pn_free(local);
	pn_free(domain);
	return ok ? 0 : -1;
}

/* add_item - append a finished mailbox; takes ownership of a's fields */
static void add_item(struct lp *p, pn_addr *a)
{
	pn_addr_list *l = p->list;

	if (p->max > 0 && l->count >= p->max) {
		l->truncated = 1;
		p->stop = 1;
		pn_addr_clear(a);
		return;
	}
	if (l->count == p->item_cap) {
		p->item_cap = p->item_cap ? p->item_cap * 2 : 4;
		l->items = pn_realloc(l->items, p->item_cap * sizeof(*l->items));
	}
	if (a->display == NULL && p->comment > 0)
		a->display = pn_strdup(p->t->v[p->comment - 1].text);
	if (p->group != NULL)
		a->group = pn_strdup(p->group);
	l->items[l->count++] = *a;
	memset(a, 0, sizeof(*a));
}

/* reset_elem - forget the element being collected */
static void reset_elem(struct lp *p)
{
	p->ncur = 0;
	p->comment = 0;
	p->ncmts = 0;
	p->angle = p->angle_ok = p->junk = 0;
	pn_addr_clear(&p->pending);
}

/* finish_bare - an element without angle brackets: [phrase] addr-spec */
static void finish_bare(struct lp *p)
{
	const struct tok *v = p->t->v;
	size_t at = p->ncur, ls, de, i, ats = 0;
	pn_addr a;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < p->ncur; i++)
		if (v[p->cur[i]].type == T_SPECIAL && v[p->cur[i]].ch == '@') {
			ats++;
			at = i;
		}
	if (ats == 0) {
		/* a lone word is a local part without domain ("root") */
		if (p->ncur == 1 && is_word(&v[p->cur[0]]) &&
		    make_addr(v, p->cur, 0, 1, 1, &a) == 0)
			add_item(p, &a);
		else
			p->list->errors++;
		return;
	}
	if (ats > 1) {
		p->list->errors++;
		return;
	}
	/* the local part is the run of joined words right before "@" */
	ls = at;
	while (ls > 0 && is_word(&v[p->cur[ls - 1]]) &&
	       (ls == at || dot_joined(&v[p->cur[ls - 1]], &v[p->cur[ls]])))
		ls--;
	de = at + 1;
	if (de < p->ncur && v[p->cur[de]].type == T_LIT)
		de++;
	else
		while (de < p->ncur && v[p->cur[de]].type == T_ATOM &&
		       (de == at + 1 || dot_joined(&v[p->cur[de - 1]], &v[p->cur[de]])))
			de++;
	if (make_addr(v, p->cur, ls, at, de, &a) < 0) {
		p->list->errors++;
		return;
	}
	if (de < p->ncur)
		p->list->errors++;	/* text after the address */
	a.display = join_phrase(v, p->cur, 0, ls);
	/* A comment inside the addr-spec ("pat(work)@x.org") is part of
	 * the address, never a display name (RFC 5322 3.4). */
	for (i = 0; i < p->ncmts; i++)
		if (p->cmts[i] < p->cur[ls] || p->cmts[i] > p->cur[de - 1]) {
			p->comment = p->cmts[i] + 1;
			break;
		}
	add_item(p, &a);
}

/* finish - close the current element and add its mailbox, if any */
static void finish(struct lp *p)
{
	if (p->angle) {
		if (p->angle_ok) {
			if (p->ncmts > 0)
				p->comment = p->cmts[0] + 1;
			p->pending.display = join_phrase(p->t->v, p->cur, 0, p->ncur);
			add_item(p, &p->pending);
		} else {
			p->list->errors++;
		}
		if (p->junk)
			p->list->errors++;
	} else if (p->ncur > 0) {
		finish_bare(p);
	}
	reset_elem(p);
}

/* parse_angle - tokens after "<" up to ">"; returns the index after them */
static size_t parse_angle(struct lp *p, size_t i)
{
	const struct tok *v = p->t->v;
	size_t *idx, n = 0, cap = 8, at, ats = 0, ls = 0, k;
	int route;

	idx = pn_malloc(cap * sizeof(*idx));
	route = i < p->t->n && v[i].type == T_SPECIAL && v[i].ch == '@';
	for (; i < p->t->n; i++) {
		const struct tok *t = &v[i];
		if (t->type == T_COMMENT)
			continue;	/* inside "<>": part of the address */
		if (t->type == T_SPECIAL) {
			if (t->ch == '>') {
				i++;
				break;
			}
			/* a missing ">": stop where the next element starts */
			if (t->ch == '<' || t->ch == ';' || (t->ch == ',' && !route))
				break;
			if (t->ch == ':')
				route = 0;
		}
		if (n == cap) {
			cap *= 2;
			idx = pn_realloc(idx, cap * sizeof(*idx));
		}
		idx[n++] = i;
	}
	p->angle = 1;
	/* "<@a,@b:user@example.com>": drop the source route */
	if (n > 0 && v[idx[0]].type == T_SPECIAL && v[idx[0]].ch == '@') {
		for (ls = 0; ls < n && !(v[idx[ls]].type == T_SPECIAL && v[idx[ls]].ch == ':'); ls++)
			;
		if (ls + 1 >= n) {	/* no ":", or nothing after it */
			pn_free(idx);
			return i;
		}
		ls++;
	}
	at = n;
	for (k = ls; k < n; k++)
		if (v[idx[k]].type == T_SPECIAL && v[idx[k]].ch == '@') {
			ats++;
			at = k;
		}
	if (ls == n) {
		/* "<>": the null address */
		p->pending.local = pn_strdup("");
		p->pending.domain = pn_strdup("");
		p->pending.address = pn_strdup("");
		p->angle_ok = 1;
	} else if (ats <= 1 && make_addr(v, idx, ls, at, n, &p->pending) == 0) {
		p->angle_ok = 1;
	}
	pn_free(idx);
	return i;
}

/* has_at - does the current element contain an "@"? */
static int has_at(const struct lp *p)
{
	size_t i;

	for (i = 0; i < p->ncur; i++)
		if (p->t->v[p->cur[i]].type == T_SPECIAL && p->t->v[p->cur[i]].ch == '@')
			return 1;
	return 0;
}

/* start_group - "name:" opens a group; its name is recorded even if empty */
static void start_group(struct lp *p)
{
	pn_addr_list *l = p->list;
	char *name = join_phrase(p->t->v, p->cur, 0, p->ncur);

	p->group = name ? name : pn_strdup("");
	if (l->group_count == p->group_cap) {
		p->group_cap = p->group_cap ? p->group_cap * 2 : 4;
		l->groups = pn_realloc(l->groups, p->group_cap * sizeof(*l->groups));
	}
	l->groups[l->group_count++] = pn_strdup(p->group);
	reset_elem(p);
}

/* add_word - token i joins the element being collected (junk after "<>") */
static void add_word(struct lp *p, size_t i)
{
	if (p->angle) {
		p->junk = 1;
		return;
	}
	if (p->ncur == p->capcur) {
		p->capcur = p->capcur ? p->capcur * 2 : 16;
		p->cur = pn_realloc(p->cur, p->capcur * sizeof(*p->cur));
	}
	p->cur[p->ncur++] = i;
}

/* pn_addr_parse_list - every mailbox of an address-list header value */
pn_addr_list *pn_addr_parse_list(const char *value, size_t max_items)
{
	struct toks t = { NULL, 0, 0 };
	struct lp p;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.list = pn_calloc(1, sizeof(*p.list));
	if (value == NULL)
		return p.list;
	lex(value, strlen(value), &t);
	p.t = &t;
	p.max = max_items;
	for (i = 0; i < t.n && !p.stop;) {
		const struct tok *k = &t.v[i];

		if (k->type == T_COMMENT) {
			if (p.ncmts == p.capcmts) {
				p.capcmts = p.capcmts ? p.capcmts * 2 : 4;
				p.cmts = pn_realloc(p.cmts, p.capcmts * sizeof(*p.cmts));
			}
			p.cmts[p.ncmts++] = i;
			i++;
			continue;
		}
		if (k->type == T_SPECIAL && k->ch != '@') {
			switch (k->ch) {
			case ',':
				finish(&p);
				break;
			case ';':
				finish(&p);
				pn_free(p.group);
				p.group = NULL;
				break;
			case ':':
				if (p.group == NULL && !p.angle && !has_at(&p))
					start_group(&p);
				else
					p.list->errors++;
				break;
			case '<':
				if (p.angle)
					finish(&p);	/* "a <x@y> <z@w>": two mailboxes */
				i = parse_angle(&p, i + 1);
				continue;
			case '[':	/* an unterminated literal: text, not a domain */
				add_word(&p, i);
				break;
			default:	/* a stray ">" */
				p.list->errors++;
				break;
			}
			i++;
			continue;
		}
		add_word(&p, i);
		i++;
	}
	if (!p.stop)
		finish(&p);
	reset_elem(&p);
	pn_free(p.group);
	pn_free(p.cur);
	pn_free(p.cmts);
	toks_free(&t);
	return p.list;
}

/* pn_addr_list_free - free a list and everything in it */
void pn_addr_list_free(pn_addr_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->count; i++)
		pn_addr_clear(&list->items[i]);
	for (i = 0; i < list->group_count; i++)
		pn_free(list->groups[i]);
	pn_free(list->items);
	pn_free(list->groups);
	pn_free(list);
}

/* pn_addr_split_sub - split "user+detail" the way Postfix does */
void pn_addr_split_sub(const char *local, const char *separators,
		       char **user, char **detail)
{
	size_t n = strlen(local), len;

	if (separators == NULL)
		separators = "+";
	*detail = NULL;
	len = strcspn(local, separators);
	/* Postfix never splits these: they must reach their owner intact. */
	if (len == 0 || len == n || local[0] == '"' ||
	    strcasecmp(local, "postmaster") == 0 ||
	    strcasecmp(local, "MAILER-DAEMON") == 0 ||
	    (strchr(separators, '-') != NULL &&
	     (strncasecmp(local, "owner-", 6) == 0 ||
	      (n > 8 && strcasecmp(local + n - 8, "-request") == 0)))) {
		*user = pn_strdup(local);
		return;
	}
	*user = pn_memdup0(local, len);
	*detail = pn_strdup(local + len + 1);
}
