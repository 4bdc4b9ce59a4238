/* SPDX-License-Identifier: BSD-2-Clause */
/* mime - streaming MIME walk (see mime.h) */
#include "common/mime.h"
#include "common/alloc.h"
#include "common/codec.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/rfc2047.h"

#include <stdint.h>
#include <string.h>

/* A line that may be a boundary is held until its end; RFC 2046 caps a
 * boundary at 70 characters, and anything longer than a line may be is
 * surely not one, whatever trailing whitespace it carries. */
#define BOUNDARY_MAX 998
#define HOLD_MAX 2048
#define QP_WS_MAX 1024		/* trailing whitespace held by the QP decoder */
#define SLICE 65536		/* decode at most this much input at once */
#define PARAM_MAX 128		/* parameters kept per header */
#define SECTION_MAX 999		/* RFC 2231 continuation numbers */

enum kind { K_LEAF, K_MULTIPART, K_MESSAGE };
enum mp_state { MP_PREAMBLE, MP_PARTS, MP_EPILOGUE };
enum dec { D_IDENTITY, D_BASE64, D_QP };
enum qp_state { Q_NORMAL, Q_EQ, Q_EQ1, Q_EQWS };
enum line_state { L_START, L_HOLD, L_PASS };

/* Decoding state of one listed part. */
typedef struct sink {
	pn_mime_part *part;
	pn_sha256 *sha;
	enum dec dec;
	char eol[2];		/* line break held until the next line shows */
	size_t eol_len;		/* it is not a boundary's */
	int eol_pending;
	unsigned acc, nacc;	/* base64 quantum */
	enum qp_state qst;
	unsigned char qh;	/* first hex digit after '=' */
	pn_buf ws;		/* QP whitespace that may be trailing */
	int keep;		/* keep the text? */
	pn_buf text;		/* raw decoded text, converted at the end */
} sink;

/* One entity being walked: the message, a body part or an embedded
 * message. Frames form a stack; the index of a frame is its depth. */
typedef struct frame {
	int in_headers;
	int external;		/* headers come from pn_mime_header() */
	int digest_child;	/* default type message/rfc822 */
	pn_buf hdr;		/* header section, lines end in \n */
	size_t hdr_line_start;	/* offset of the current line in hdr */
	size_t line_bytes;	/* bytes of the current header line */
	size_t ext_bytes;	/* external header bytes seen */
	int hdr_over;		/* header section exceeded the limit */
	char *ct, *cte, *cd;	/* unfolded raw values */
	enum kind kind;
	char *boundary;
	size_t blen;
	enum mp_state mp;
	int digest;
	sink *s;
} frame;

struct pn_mime {
	pn_mime_limits lim;
	frame **fr;
	size_t nfr, capfr;
	pn_mime_part **parts;
	size_t nparts, capparts;
	int truncated, stopped, finished, body_started;
	unsigned long long body_bytes;
	size_t text_budget;
	size_t nbound;		/* multiparts whose boundaries are live */
	enum line_state lst;
	pn_buf hold;		/* a line starting with '-' */
	int pending_cr;		/* a CR ended the last chunk */
	pn_buf scr;		/* decoder output */
};

/* One MIME header parameter, RFC 2231 name parts split out. */
typedef struct param {
	char *name;		/* lower case, without section or '*' */
	int section;		/* -1 when not a continuation */
	int ext;		/* value is charset'lang'%XX encoded */
	char *value;
	size_t vlen;
} param;

typedef struct plist {
	param v[PARAM_MAX];
	size_t n;
} plist;

static void process_line(pn_mime *m, size_t from, const char *line, size_t len,
			 const char *eol, size_t eollen);

/* lower - ASCII lower case in place */
static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* ---- structured header values (RFC 2045, 2183, 2231) ---- */

/* is_tspecial - RFC 2045 tspecials, which end a token */
static int is_tspecial(unsigned char c)
{
	return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* is_token - may c appear in an RFC 2045 token? */
static int is_token(unsigned char c)
{
	return c > ' ' && c < 0x7f && !is_tspecial(c);
}

/* skip_cfws - step over whitespace and (nested) comments */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
	while (i < n) {
		if (s[i] == ' ' || s[i] == '\t') {
			i++;
		} else if (s[i] == '(') {
			size_t depth = 0;

			/* Each step advances i: bounded by n however deep. */
			for (; i < n; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return i;
}

/* token_end - end of the token starting at i */
static size_t token_end(const char *s, size_t n, size_t i)
{
	while (i < n && is_token((unsigned char)s[i]))
		i++;
	return i;
}

/* skip_to_semicolon - next ';' outside a quoted string, or n */
static size_t skip_to_semicolon(const char *s, size_t n, size_t i)
{
	int q = 0;

	for (; i < n; i++) {
		if (q && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == ';')
			break;
	}
	return i;
}

/* param_add - split an RFC 2231 name (name, name*, name*N, name*N*) */
static void param_add(plist *pl, const char *name, size_t nlen, char *value, size_t vlen)
{
	const char *star = memchr(name, '*', nlen);
	param *p;
	int section = -1, ext = 0;

	if (pl->n >= PARAM_MAX || (star != NULL && star == name)) {
		pn_free(value);
		return;
	}
	if (star) {
		const char *q = star + 1, *end = name + nlen;

		if (q == end) {
			ext = 1;	/* name*: one encoded value */
		} else {
			section = 0;
			while (q < end && *q >= '0' && *q <= '9' && section <= SECTION_MAX)
				section = section * 10 + (*q++ - '0');
			if (q == star + 1 || section > SECTION_MAX) {
				pn_free(value);
				return;
			}
			if (q < end && *q == '*') {
				ext = 1;	/* name*N*: this section encoded */
				q++;
			}
		}
		if (q != end) {
			pn_free(value);
			return;
		}
		nlen = (size_t)(star - name);
	}
	p = &pl->v[pl->n++];
	p->name = pn_memdup0(name, nlen);
	lower(p->name);
	p->section = section;
	p->ext = ext;
	p->value = value;
	p->vlen = vlen;
}

/* parse_params - the ;-separated parameters from offset i on; values
 * may be unquoted with spaces, as broken senders write filenames */
static void parse_params(const char *s, size_t n, size_t i, plist *pl)
{
	pl->n = 0;
	i = skip_to_semicolon(s, n, i);
	/* Each round moves past at least one ';' or ends. */
	while (i < n) {
		size_t ns, ne;
		char *val;
		size_t vlen;

		i = skip_cfws(s, n, i + 1);	/* past ';' */
		ns = i;
		ne = token_end(s, n, ns);
		i = skip_cfws(s, n, ne);
		if (ne == ns || i >= n || s[i] != '=') {
			i = skip_to_semicolon(s, n, i);
			continue;
		}
		i = skip_cfws(s, n, i + 1);
		if (i < n && s[i] == '"') {
			pn_buf b;

			pn_buf_init(&b, 0);
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				pn_buf_putc(&b, s[i]);
			}
			val = pn_buf_steal(&b, &vlen);
			i = skip_to_semicolon(s, n, i < n ? i + 1 : n);
		} else {
			size_t vs = i, ve = skip_to_semicolon(s, n, i);

			i = ve;
			while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
				ve--;
			vlen = ve - vs;
			val = pn_memdup0(s + vs, vlen);
		}
		param_add(pl, s + ns, ne - ns, val, vlen);
	}
}

/* plist_free - release parameter names and values */
static void plist_free(plist *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++) {
		pn_free(pl->v[i].name);
		pn_free(pl->v[i].value);
	}
	pl->n = 0;
}

/* pct_decode - RFC 2231 %XX to bytes; a stray % stays as it is */
static void pct_decode(pn_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n &&
		    (h = pn_hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (l = pn_hex_value((unsigned char)s[i + 2])) >= 0) {
			pn_buf_putc(b, h * 16 + l);
			i += 2;
		} else {
			pn_buf_putc(b, s[i]);
		}
	}
}

/* split_2231 - find the charset of charset'lang'data; returns data start */
static size_t split_2231(const char *v, size_t n, char **charset)
{
	const char *q1 = memchr(v, '\'', n), *q2;

	*charset = NULL;
	if (q1 == NULL)
		return 0;
	q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v));
	if (q2 == NULL)
		return 0;
	if (q1 > v)
		*charset = pn_memdup0(v, (size_t)(q1 - v));
	return (size_t)(q2 + 1 - v);
}

/* find_param - the parameter with this name and section */
static const param *find_param(const plist *pl, const char *name, int section, int ext)
{
	size_t i;

	for (i = 0; i < pl->n; i++) {
		const param *p = &pl->v[i];

		if (p->section == section && (ext < 0 || p->ext == ext) &&
		    strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

/* to_utf8 - bytes in an optional charset to valid UTF-8 */
static char *to_utf8(const char *charset, const char *bytes, size_t len)
{
	char *s = charset ? pn_charset_to_utf8(charset, bytes, len) : NULL;

	return s ? s : pn_utf8_sanitize(bytes, len);
}

/* param_get - a parameter's value: RFC 2231 forms first (senders add
 * them beside a plain one for old readers), then the plain form. With
 * text set the result is UTF-8 (RFC 2047 decoded if plain), else the
 * raw bytes. NULL when absent. */
static char *param_get(const plist *pl, const char *name, int text, size_t *len)
{
	const param *p;
	char *charset = NULL, *out;
	pn_buf b;
	size_t off;
	int sec;

	pn_buf_init(&b, 0);
	if ((p = find_param(pl, name, -1, 1)) != NULL) {
		off = split_2231(p->value, p->vlen, &charset);
		pct_decode(&b, p->value + off, p->vlen - off);
	} else if ((p = find_param(pl, name, 0, -1)) != NULL) {
		for (sec = 0; sec <= SECTION_MAX && (p = find_param(pl, name, sec, -1)); sec++) {
			off = 0;
			if (p->ext) {
				if (sec == 0)
					off = split_2231(p->value, p->vlen, &charset);
				pct_decode(&b, p->value + off, p->vlen - off);
			} else {
				pn_buf_append(&b, p->value, p->vlen);
			}
		}
	} else if ((p = find_param(pl, name, -1, 0)) != NULL) {
		pn_buf_free(&b);
		if (text)
			out = pn_rfc2047_decode(p->value, p->vlen);
		else
			out = pn_memdup0(p->value, p->vlen);
		*len = strlen(out);
		return out;
	} else {
		pn_buf_free(&b);
		return NULL;
	}
	if (text) {
		out = to_utf8(charset, pn_buf_str(&b), pn_buf_len(&b));
		*len = strlen(out);
		pn_buf_free(&b);
	} else {
		out = pn_buf_steal(&b, len);
	}
	pn_free(charset);
	return out;
}

/* first_token - lower-case first token of a value, or NULL */
static char *first_token(const char *s, size_t n, size_t *end)
{
	size_t i = skip_cfws(s, n, 0), e = token_end(s, n, i);
	char *t;

	*end = e;
	if (e == i)
		return NULL;
	t = pn_memdup0(s + i, e - i);
	lower(t);
	return t;
}

/* parse_ctype - "type/subtype" in lower case or NULL; parameters too */
static char *parse_ctype(const char *s, plist *pl)
{
	size_t n = strlen(s), i, e, ts, te;
	char *type = NULL;

	pl->n = 0;
	i = skip_cfws(s, n, 0);
	ts = i;
	te = token_end(s, n, ts);
	i = skip_cfws(s, n, te);
	if (te > ts && i < n && s[i] == '/') {
		size_t ss = skip_cfws(s, n, i + 1);

		e = token_end(s, n, ss);
		if (e > ss) {
			type = pn_asprintf("%.*s/%.*s", (int)(te - ts), s + ts,
					   (int)(e - ss), s + ss);
			lower(type);
		}
		i = e;
	}
	parse_params(s, n, i, pl);
	return type;
}

/* ---- output: listed parts and their decoders ---- */

/* sink_emit - decoded bytes of a part */
static void sink_emit(pn_mime *m, sink *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	s->part->size += n;
	pn_sha256_update(s->sha, p, n);
	if (s->keep) {
		size_t room = m->lim.keep_text_max > pn_buf_len(&s->text)
				      ? m->lim.keep_text_max - pn_buf_len(&s->text)
				      : 0;

		if (room > m->text_budget)
			room = m->text_budget;
		if (n > room) {
			s->part->text_truncated = 1;
			n = room;
		}
		pn_buf_append(&s->text, p, n);
		m->text_budget -= n;
	}
}

/* scr_flush - hand the decoder output to the part */
static void scr_flush(pn_mime *m, sink *s)
{
	sink_emit(m, s, pn_buf_str(&m->scr), pn_buf_len(&m->scr));
	pn_buf_reset(&m->scr);
}

/* qp_ws_flush - held whitespace was not trailing after all */
static void qp_ws_flush(pn_mime *m, sink *s)
{
	pn_buf_append(&m->scr, pn_buf_str(&s->ws), pn_buf_len(&s->ws));
	pn_buf_reset(&s->ws);
}

/* qp_ws_hold - hold whitespace until the line shows whether it trails */
static void qp_ws_hold(pn_mime *m, sink *s, unsigned char c)
{
	if (pn_buf_putc(&s->ws, c) < 0) {
		/* This much whitespace is content, not transport padding. */
		qp_ws_flush(m, s);
		if (s->qst == Q_EQWS)
			s->qst = Q_NORMAL;
		pn_buf_putc(&s->ws, c);
	}
}

/* qp_data - quoted-printable decoding of line content */
static void qp_data(pn_mime *m, sink *s, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		int again = 1;

		/* A byte is looked at again at most once, after the state
		 * fell back to Q_NORMAL. */
		while (again) {
			again = 0;
			switch (s->qst) {
			case Q_NORMAL:
				if (c == '=') {
					qp_ws_flush(m, s);
					s->qst = Q_EQ;
				} else if (c == ' ' || c == '\t') {
					qp_ws_hold(m, s, c);
				} else {
					qp_ws_flush(m, s);
					pn_buf_putc(&m->scr, c);
				}
				break;
			case Q_EQ:
				if (pn_hex_value(c) >= 0) {
					s->qh = c;
					s->qst = Q_EQ1;
				} else if (c == ' ' || c == '\t') {
					s->qst = Q_EQWS;
					qp_ws_hold(m, s, '=');
					qp_ws_hold(m, s, c);
				} else {
					pn_buf_putc(&m->scr, '=');
					s->qst = Q_NORMAL;
					again = 1;
				}
				break;
			case Q_EQ1:
				if (pn_hex_value(c) >= 0) {
					pn_buf_putc(&m->scr, pn_hex_value(s->qh) * 16 + pn_hex_value(c));
					s->qst = Q_NORMAL;
				} else {
					pn_buf_putc(&m->scr, '=');
					pn_buf_putc(&m->scr, s->qh);
					s->qst = Q_NORMAL;
					again = 1;
				}
				break;
			case Q_EQWS:
				if (c == ' ' || c == '\t') {
					qp_ws_hold(m, s, c);
				} else {
					qp_ws_flush(m, s);
					s->qst = Q_NORMAL;
					again = 1;
				}
				break;
			}
		}
	}
}

/* qp_eol - a line break in quoted-printable: soft, or kept */
static void qp_eol(pn_mime *m, sink *s, const char *eol, size_t n)
{
	switch (s->qst) {
	case Q_NORMAL:
		pn_buf_reset(&s->ws);	/* trailing whitespace is padding */
		pn_buf_append(&m->scr, eol, n);
		break;
	case Q_EQ:
	case Q_EQWS:
		pn_buf_reset(&s->ws);	/* soft line break */
		break;
	case Q_EQ1:
		pn_buf_putc(&m->scr, '=');
		pn_buf_putc(&m->scr, s->qh);
		pn_buf_append(&m->scr, eol, n);
		break;
	}
	s->qst = Q_NORMAL;
}

/* b64_data - base64 decoding, skipping what is not base64 */
static void b64_data(pn_mime *m, sink *s, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int v;

		if (p[i] == '=') {
			/* Padding ends a quantum; decoding goes on after it
			 * because some senders concatenate encoded blobs. */
			if (s->nacc == 2) {
				pn_buf_putc(&m->scr, (int)(s->acc >> 4) & 0xff);
			} else if (s->nacc == 3) {
				pn_buf_putc(&m->scr, (int)(s->acc >> 10) & 0xff);
				pn_buf_putc(&m->scr, (int)(s->acc >> 2) & 0xff);
			}
			s->acc = s->nacc = 0;
			continue;
		}
		if ((v = pn_base64_value(p[i])) < 0)
			continue;
		s->acc = (s->acc << 6) | (unsigned)v;
		if (++s->nacc == 4) {
			pn_buf_putc(&m->scr, (int)(s->acc >> 16) & 0xff);
			pn_buf_putc(&m->scr, (int)(s->acc >> 8) & 0xff);
			pn_buf_putc(&m->scr, (int)s->acc & 0xff);
			s->acc = s->nacc = 0;
		}
	}
}

/* dec_data - decode line content into the part */
static void dec_data(pn_mime *m, sink *s, const char *p, size_t n)
{
	/* In slices so that the decoder's output buffer stays small. */
	while (n > 0) {
		size_t k = n < SLICE ? n : SLICE;

		if (s->dec == D_BASE64)
			b64_data(m, s, (const unsigned char *)p, k);
		else if (s->dec == D_QP)
			qp_data(m, s, (const unsigned char *)p, k);
		else
			pn_buf_append(&m->scr, p, k);
		scr_flush(m, s);
		p += k;
		n -= k;
	}
}

/* dec_eol - a line break inside the part's content */
static void dec_eol(pn_mime *m, sink *s, const char *eol, size_t n)
{
	s->part->raw_size += n;
	if (s->dec == D_QP)
		qp_eol(m, s, eol, n);
	else if (s->dec == D_IDENTITY)
		pn_buf_append(&m->scr, eol, n);
	scr_flush(m, s);
}

/* sink_data - content bytes of a line; a held line break was content */
static void sink_data(pn_mime *m, sink *s, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (s->eol_pending) {
		dec_eol(m, s, s->eol, s->eol_len);
		s->eol_pending = 0;
	}
	s->part->raw_size += n;
	dec_data(m, s, p, n);
}

/* sink_eol - end of a line; its break is held in case a boundary follows */
static void sink_eol(pn_mime *m, sink *s, const char *eol, size_t n)
{
	if (s->eol_pending)
		dec_eol(m, s, s->eol, s->eol_len);
	s->eol_pending = n > 0;
	s->eol_len = n > 2 ? 2 : n;
	if (n > 0)
		memcpy(s->eol, eol, s->eol_len);
}

/* sink_new - start decoding a listed part */
static sink *sink_new(pn_mime *m, pn_mime_part *part)
{
	sink *s = pn_calloc(1, sizeof(*s));

	s->part = part;
	s->sha = pn_sha256_new();
	if (strcmp(part->encoding, "base64") == 0)
		s->dec = D_BASE64;
	else if (strcmp(part->encoding, "quoted-printable") == 0)
		s->dec = D_QP;
	else
		s->dec = D_IDENTITY;
	pn_buf_init(&s->ws, QP_WS_MAX);
	pn_buf_init(&s->text, m->lim.keep_text_max);
	s->keep = m->lim.keep_text_max > 0 && !part->is_container &&
		  (m->lim.keep_all_content || strcmp(part->content_type, "text/plain") == 0 ||
		   strcmp(part->content_type, "text/html") == 0);
	return s;
}

/* sink_free - release a sink without finishing it */
static void sink_free(sink *s)
{
	if (s == NULL)
		return;
	pn_sha256_free(s->sha);
	pn_buf_free(&s->ws);
	pn_buf_free(&s->text);
	pn_free(s);
}

/* keep_text - the part's text as UTF-8, cut to the per-part limit */
static void keep_text(pn_mime *m, sink *s)
{
	pn_mime_part *part = s->part;
	const char *cs = part->charset ? part->charset : "us-ascii";
	const char *raw = pn_buf_str(&s->text);
	size_t len = pn_buf_len(&s->text), cut;
	char *t;

	if (strncmp(part->content_type, "text/", 5) != 0) {
		/* keep_all_content: not text, so no charset: the bytes as decoded */
		part->text = pn_memdup0(raw, len);
		part->text_len = len;
		return;
	}
	if (part->text_truncated)
		t = pn_charset_to_utf8_prefix(cs, raw, len);
	else
		t = pn_charset_to_utf8(cs, raw, len);
	if (t == NULL)	/* unknown charset: UTF-8 is the best guess */
		t = part->text_truncated ? pn_charset_to_utf8_prefix("utf-8", raw, len)
					 : pn_utf8_sanitize(raw, len);
	cut = strlen(t);
	if (cut > m->lim.keep_text_max) {
		cut = m->lim.keep_text_max;
		while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
			cut--;
		t[cut] = '\0';
		part->text_truncated = 1;
	}
	part->text = t;
	part->text_len = cut;
}

/* sink_end - finish a part; at a boundary the held line break was the
 * boundary's, at the end of the message it was content */
static void sink_end(pn_mime *m, sink *s, int at_boundary)
{
	unsigned char md[PN_SHA256_LEN];

	if (s->eol_pending && !at_boundary)
		dec_eol(m, s, s->eol, s->eol_len);
	s->eol_pending = 0;
	if (s->dec == D_BASE64) {
		if (s->nacc >= 2)	/* missing padding */
			b64_data(m, s, (const unsigned char *)"=", 1);
	} else if (s->dec == D_QP && s->qst == Q_EQ1) {
		pn_buf_putc(&m->scr, '=');
		pn_buf_putc(&m->scr, s->qh);
	}
	scr_flush(m, s);
	pn_sha256_final(s->sha, md);
	pn_hex(md, sizeof(md), s->part->sha256);
	if (s->keep)
		keep_text(m, s);
	sink_free(s);
}

/* ---- the frame stack ---- */

/* frame_push - a new entity, in its header section */
static void frame_push(pn_mime *m, int external, int digest_child)
{
	frame *f = pn_calloc(1, sizeof(*f));

	if (m->nfr == m->capfr) {
		m->capfr = m->capfr ? m->capfr * 2 : 8;
		m->fr = pn_realloc(m->fr, m->capfr * sizeof(*m->fr));
	}
	f->in_headers = 1;
	f->external = external;
	f->digest_child = digest_child;
	pn_buf_init(&f->hdr, m->lim.max_header_bytes);
	m->fr[m->nfr++] = f;
}

/* frame_free - release one frame */
static void frame_free(frame *f)
{
	pn_buf_free(&f->hdr);
	pn_free(f->ct);
	pn_free(f->cte);
	pn_free(f->cd);
	pn_free(f->boundary);
	sink_free(f->s);
	pn_free(f);
}

/* set_header - remember one of the three headers that matter */
static void set_header(frame *f, const char *name, size_t nlen, const char *value, size_t vlen)
{
	char **slot = NULL;

	if (nlen == 12 && strncasecmp(name, "content-type", 12) == 0)
		slot = &f->ct;
	else if (nlen == 25 && strncasecmp(name, "content-transfer-encoding", 25) == 0)
		slot = &f->cte;
	else if (nlen == 19 && strncasecmp(name, "content-disposition", 19) == 0)
		slot = &f->cd;
	/* The first wins: readers disagree, and the first is what most
	 * of them show. */
	if (slot && *slot == NULL)
		*slot = pn_header_unfold(value, vlen);
}

/* parse_hdr_block - pick the header fields out of a part's header section */
static void parse_hdr_block(frame *f)
{
	const char *s = pn_buf_str(&f->hdr);
	size_t n = pn_buf_len(&f->hdr), i = 0;

	/* Each round consumes at least one line. */
	while (i < n) {
		size_t start = i, end, colon, ne, vs;
		const char *nl;

		do {
			nl = memchr(s + i, '\n', n - i);
			i = nl ? (size_t)(nl - s) + 1 : n;
		} while (i < n && (s[i] == ' ' || s[i] == '\t'));
		end = i;
		nl = memchr(s + start, ':', end - start);
		if (nl == NULL)
			continue;
		colon = (size_t)(nl - s);
		ne = colon;
		while (ne > start && (s[ne - 1] == ' ' || s[ne - 1] == '\t'))
			ne--;
		vs = colon + 1;
		while (vs < end && (s[vs] == ' ' || s[vs] == '\t'))
			vs++;
		set_header(f, s + start, ne - start, s + vs, end - vs);
	}
}

/* is_header_line - could this line of a header section be a field? */
static int is_header_line(const char *s, size_t n, int first)
{
	size_t i = 0;

	if (n > 0 && (s[0] == ' ' || s[0] == '\t'))
		return !first;
	while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f && s[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < n && s[i] == ':';
}

/* part_new - list a part, or stop the walk when the list is full */
static pn_mime_part *part_new(pn_mime *m)
{
	pn_mime_part *p;

	if (m->nparts >= m->lim.max_parts) {
		m->truncated = 1;
		m->stopped = 1;
		return NULL;
	}
	if (m->nparts == m->capparts) {
		m->capparts = m->capparts ? m->capparts * 2 : 8;
		m->parts = pn_realloc(m->parts, m->capparts * sizeof(*m->parts));
	}
	p = pn_calloc(1, sizeof(*p));
	m->parts[m->nparts++] = p;
	return p;
}

/* is_identity - an encoding that leaves the bytes alone */
static int is_identity(const char *enc)
{
	return strcmp(enc, "7bit") == 0 || strcmp(enc, "8bit") == 0 ||
	       strcmp(enc, "binary") == 0;
}

/* keep_embedded_header - keep_all_content: an embedded message's content
 * is its header section, taken when that ends (a point of the stream that
 * does not depend on how the body is cut into chunks) */
static void keep_embedded_header(pn_mime *m, pn_mime_part *container, const pn_buf *hdr)
{
	size_t n = pn_buf_len(hdr);

	if (n > m->lim.keep_text_max)
		n = m->lim.keep_text_max;
	if (n > m->text_budget)
		n = m->text_budget;
	if (n < pn_buf_len(hdr))
		container->text_truncated = 1;
	container->text = pn_memdup0(pn_buf_str(hdr), n);
	container->text_len = n;
	m->text_budget -= n;
}

/* end_headers - decide what the entity at depth idx is and start its body */
static void end_headers(pn_mime *m, size_t idx)
{
	frame *f = m->fr[idx];
	plist ct, cd;
	char *type, *enc, *disp, *fname, *bnd, *hdr = NULL;
	size_t len, e, hdr_len = 0;
	pn_mime_part *p;
	int message;

	f->in_headers = 0;
	f->kind = K_LEAF;
	if (!f->external)
		parse_hdr_block(f);
	if (m->lim.keep_all_content && m->lim.keep_text_max > 0 && idx > 0
	    && m->fr[idx - 1]->kind == K_MESSAGE && m->fr[idx - 1]->s
	    && m->fr[idx - 1]->s->part->text == NULL)
		keep_embedded_header(m, m->fr[idx - 1]->s->part, &f->hdr);
	if (m->lim.keep_headers && !f->external && !f->hdr_over && !m->stopped)
		hdr = pn_buf_steal(&f->hdr, &hdr_len);
	pn_buf_free(&f->hdr);
	if (m->stopped) {
		pn_free(hdr);
		return;
	}
	type = parse_ctype(f->ct ? f->ct : "", &ct);
	if (type == NULL)
		type = pn_strdup(f->digest_child ? "message/rfc822" : "text/plain");
	enc = f->cte ? first_token(f->cte, strlen(f->cte), &e) : NULL;
	if (enc == NULL)
		enc = pn_strdup("7bit");

	if (strncmp(type, "multipart/", 10) == 0 &&
	    (bnd = param_get(&ct, "boundary", 0, &len)) != NULL) {
		if (len > 0 && len <= BOUNDARY_MAX && idx < m->lim.max_depth) {
			if (m->lim.keep_headers && (p = part_new(m)) != NULL) {
				/* listed before its children: document order */
				p->content_type = pn_strdup(type);
				p->encoding = pn_strdup(enc);
				p->depth = (unsigned)idx;
				p->is_multipart = 1;
				p->header = hdr;
				p->header_len = hdr_len;
				hdr = NULL;
			}
			pn_free(hdr);
			if (m->stopped) {
				pn_free(bnd);
				pn_free(type);
				pn_free(enc);
				plist_free(&ct);
				return;
			}
			f->kind = K_MULTIPART;
			f->boundary = bnd;
			f->blen = len;
			f->mp = MP_PREAMBLE;
			f->digest = strcmp(type, "multipart/digest") == 0;
			m->nbound++;
			pn_free(type);
			pn_free(enc);
			plist_free(&ct);
			return;
		}
		if (len > 0 && len <= BOUNDARY_MAX)
			m->truncated = 1;	/* too deep */
		pn_free(bnd);
	}
	message = strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0;
	if (message && is_identity(enc)) {
		if (idx < m->lim.max_depth)
			f->kind = K_MESSAGE;
		else
			m->truncated = 1;
	}

	if ((p = part_new(m)) == NULL) {
		f->kind = K_LEAF;
		pn_free(hdr);
		pn_free(type);
		pn_free(enc);
		plist_free(&ct);
		return;
	}
	p->content_type = type;
	p->encoding = enc;
	p->depth = (unsigned)idx;
	p->is_container = f->kind == K_MESSAGE;
	p->header = hdr;
	p->header_len = hdr_len;
	if ((p->charset = param_get(&ct, "charset", 0, &len)) != NULL) {
		char *c = pn_utf8_sanitize(p->charset, len);

		pn_free(p->charset);
		p->charset = c;
		lower(c);
	}
	cd.n = 0;
	fname = NULL;
	if (f->cd) {
		disp = first_token(f->cd, strlen(f->cd), &e);
		parse_params(f->cd, strlen(f->cd), e, &cd);
		if (disp == NULL)
			p->disposition = NULL;
		else if (strcmp(disp, "inline") == 0)
			p->disposition = "inline";
		else
			p->disposition = "attachment";
		pn_free(disp);
		fname = param_get(&cd, "filename", 1, &len);
	}
	if (fname == NULL || *fname == '\0') {
		pn_free(fname);
		fname = param_get(&ct, "name", 1, &len);
	}
	if (fname != NULL && *fname == '\0') {
		pn_free(fname);
		fname = NULL;
	}
	p->filename = fname;
	p->is_attachment = fname != NULL ||
			   (p->disposition && strcmp(p->disposition, "attachment") == 0);
	plist_free(&ct);
	plist_free(&cd);
	f->s = sink_new(m, p);
	if (f->kind == K_MESSAGE)
		frame_push(m, 0, 0);
}

/* close_top - end the innermost entity, at a boundary or at the end */
static void close_top(pn_mime *m, int at_boundary)
{
	size_t idx = m->nfr - 1;
	frame *f = m->fr[idx];

	if (f->in_headers) {
		end_headers(m, idx);
		if (m->nfr - 1 != idx)
			return;	/* it pushed an embedded message: close that first */
	}
	if (f->s) {
		sink_end(m, f->s, at_boundary);
		f->s = NULL;
	}
	if (f->kind == K_MULTIPART)
		m->nbound--;
	frame_free(f);
	m->nfr--;
}

/* ---- delivering lines ---- */

/* hdr_data - bytes of a header line */
static void hdr_data(pn_mime *m, frame *f, const char *p, size_t n)
{
	f->line_bytes += n;
	if (f->hdr_over)
		return;
	if (pn_buf_append(&f->hdr, p, n) < 0) {
		f->hdr_over = 1;
		m->truncated = 1;
	}
}

/* hdr_eol - end of a header line: blank ends the section, and a line
 * that cannot be a field is taken as the first line of the body */
static void hdr_eol(pn_mime *m, size_t idx, const char *eol, size_t eollen)
{
	frame *f = m->fr[idx];

	if (f->line_bytes == 0) {
		end_headers(m, idx);
		return;
	}
	f->line_bytes = 0;
	if (!f->hdr_over) {
		const char *line = pn_buf_str(&f->hdr) + f->hdr_line_start;
		size_t len = pn_buf_len(&f->hdr) - f->hdr_line_start;

		if (!is_header_line(line, len, f->hdr_line_start == 0)) {
			char *copy = pn_memdup0(line, len);

			f->hdr.len = f->hdr_line_start;
			f->hdr.data[f->hdr.len] = '\0';
			end_headers(m, idx);
			/* A message's embedded headers end at once here, so
			 * this recursion is at most two levels deep. */
			process_line(m, idx, copy, len, eol, eollen);
			pn_free(copy);
			return;
		}
		if (pn_buf_putc(&f->hdr, '\n') < 0) {
			f->hdr_over = 1;
			m->truncated = 1;
		}
	}
	f->hdr_line_start = pn_buf_len(&f->hdr);
}

/* deliver_data - content of a line that is not a boundary, to every
 * embedded message from depth from on and to the innermost entity */
static void deliver_data(pn_mime *m, size_t from, const char *p, size_t n)
{
	size_t j;
	frame *top;

	if (m->stopped || n == 0)
		return;
	for (j = from; j + 1 < m->nfr; j++)
		if (m->fr[j]->kind == K_MESSAGE && m->fr[j]->s)
			sink_data(m, m->fr[j]->s, p, n);
	top = m->fr[m->nfr - 1];
	if (top->in_headers)
		hdr_data(m, top, p, n);
	else if (top->kind == K_LEAF && top->s)
		sink_data(m, top->s, p, n);
}

/* deliver_eol - the end of such a line */
static void deliver_eol(pn_mime *m, size_t from, const char *eol, size_t n)
{
	size_t j;
	frame *top;

	if (m->stopped)
		return;
	for (j = from; j + 1 < m->nfr; j++)
		if (m->fr[j]->kind == K_MESSAGE && m->fr[j]->s)
			sink_eol(m, m->fr[j]->s, eol, n);
	top = m->fr[m->nfr - 1];
	if (top->in_headers)
		hdr_eol(m, m->nfr - 1, eol, n);
	else if (top->kind == K_LEAF && top->s)
		sink_eol(m, top->s, eol, n);
}

/* boundary_match - 1 for a delimiter line, 2 for the close delimiter */
static int boundary_match(const frame *f, const char *line, size_t len)
{
	size_t i;
	int close = 0;

	if (len < 2 + f->blen || memcmp(line + 2, f->boundary, f->blen) != 0)
		return 0;
	i = 2 + f->blen;
	if (i + 1 < len && line[i] == '-' && line[i + 1] == '-') {
		close = 1;
		i += 2;
	}
	for (; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return 0;
	return close ? 2 : 1;
}

/* boundary - a boundary of the multipart at depth k: everything inside
 * it ends, embedded messages around it see an ordinary line */
static void boundary(pn_mime *m, size_t from, size_t k, int close, const char *line,
		     size_t len, const char *eol, size_t eollen)
{
	size_t j;
	frame *f;

	/* Each round pops a frame or ends a header section, which can
	 * push at most one frame, once. */
	while (m->nfr - 1 > k)
		close_top(m, 1);
	if (m->stopped)
		return;
	for (j = from; j < k; j++) {
		if (m->fr[j]->kind == K_MESSAGE && m->fr[j]->s) {
			sink_data(m, m->fr[j]->s, line, len);
			sink_eol(m, m->fr[j]->s, eol, eollen);
		}
	}
	f = m->fr[k];
	if (close) {
		f->mp = MP_EPILOGUE;
	} else {
		f->mp = MP_PARTS;
		frame_push(m, 0, f->digest);
	}
}

/* process_line - a whole line that may be a boundary */
static void process_line(pn_mime *m, size_t from, const char *line, size_t len,
			 const char *eol, size_t eollen)
{
	size_t k;

	if (m->stopped)
		return;
	if (m->nbound > 0 && len >= 2 && line[0] == '-' && line[1] == '-') {
		/* Innermost first: an outer boundary also ends the inner
		 * multiparts, which tolerates their missing close. */
		for (k = m->nfr; k-- > 0;) {
			frame *f = m->fr[k];
			int r;

			if (f->kind != K_MULTIPART || f->in_headers)
				continue;
			if ((r = boundary_match(f, line, len)) != 0) {
				boundary(m, from, k, r == 2, line, len, eol, eollen);
				return;
			}
		}
	}
	deliver_data(m, from, line, len);
	deliver_eol(m, from, eol, eollen);
}

/* hold_demote - the held line is not a boundary: pass it on as content */
static void hold_demote(pn_mime *m)
{
	size_t n = pn_buf_len(&m->hold);

	if (n > 0 && m->hold.data[n - 1] == '\r') {
		m->pending_cr = 1;
		n--;
	}
	deliver_data(m, 0, pn_buf_str(&m->hold), n);
	pn_buf_reset(&m->hold);
	m->lst = L_PASS;
}

/* body_start - the top-level header section is over */
static void body_start(pn_mime *m)
{
	if (m->body_started)
		return;
	m->body_started = 1;
	end_headers(m, 0);
}

/* ---- public interface ---- */

/* pn_mime_new - start a walk */
pn_mime *pn_mime_new(const pn_mime_limits *limits)
{
	pn_mime *m = pn_calloc(1, sizeof(*m));

	if (limits)
		m->lim = *limits;
	if (m->lim.max_depth == 0)
		m->lim.max_depth = PN_MIME_MAX_DEPTH;
	if (m->lim.max_parts == 0)
		m->lim.max_parts = PN_MIME_MAX_PARTS;
	if (m->lim.max_header_bytes == 0)
		m->lim.max_header_bytes = PN_MIME_MAX_HEADER_BYTES;
	if (m->lim.keep_text_total == 0)
		m->lim.keep_text_total = m->lim.keep_text_max > SIZE_MAX / 4
						 ? SIZE_MAX
						 : m->lim.keep_text_max * 4;
	m->text_budget = m->lim.keep_text_total;
	pn_buf_init(&m->hold, HOLD_MAX + 1);
	pn_buf_init(&m->scr, SIZE_MAX / 4);
	m->lst = L_START;
	frame_push(m, 1, 0);
	return m;
}

/* pn_mime_header - one top-level header field */
void pn_mime_header(pn_mime *m, const char *name, const char *value)
{
	frame *f;
	size_t nlen = strlen(name), vlen = strlen(value);

	if (m->finished || m->body_started)
		return;
	f = m->fr[0];
	if (f->ext_bytes > m->lim.max_header_bytes ||
	    nlen + vlen > m->lim.max_header_bytes - f->ext_bytes) {
		f->ext_bytes = m->lim.max_header_bytes + 1;
		m->truncated = 1;
		return;
	}
	f->ext_bytes += nlen + vlen;
	set_header(f, name, nlen, value, vlen);
}

/* pn_mime_body - a chunk of the body, cut anywhere */
void pn_mime_body(pn_mime *m, const void *chunk, size_t len)
{
	const char *p = chunk;
	size_t i = 0;

	if (m->finished)
		return;
	body_start(m);
	m->body_bytes += len;
	/* Each round consumes at least one byte or finishes a line. */
	while (i < len && !m->stopped) {
		const char *lf;

		if (m->lst == L_START)
			m->lst = m->nbound > 0 && p[i] == '-' ? L_HOLD : L_PASS;
		if (m->lst == L_HOLD) {
			size_t room = HOLD_MAX - pn_buf_len(&m->hold), take = len - i;

			if (take > room)
				take = room;
			lf = memchr(p + i, '\n', take);
			if (lf) {
				size_t n;

				pn_buf_append(&m->hold, p + i, (size_t)(lf - (p + i)));
				i = (size_t)(lf - p) + 1;
				n = pn_buf_len(&m->hold);
				m->lst = L_START;
				if (n > 0 && m->hold.data[n - 1] == '\r')
					process_line(m, 0, m->hold.data, n - 1, "\r\n", 2);
				else
					process_line(m, 0, pn_buf_str(&m->hold), n, "\n", 1);
				pn_buf_reset(&m->hold);
				continue;
			}
			pn_buf_append(&m->hold, p + i, take);
			i += take;
			if ((pn_buf_len(&m->hold) >= 2 && m->hold.data[1] != '-') ||
			    pn_buf_len(&m->hold) >= HOLD_MAX)
				hold_demote(m);
			continue;
		}
		/* L_PASS: stream the line through */
		if (m->pending_cr) {
			m->pending_cr = 0;
			if (p[i] == '\n') {
				i++;
				m->lst = L_START;
				deliver_eol(m, 0, "\r\n", 2);
				continue;
			}
			deliver_data(m, 0, "\r", 1);
		}
		lf = memchr(p + i, '\n', len - i);
		if (lf) {
			size_t n = (size_t)(lf - (p + i));

			if (n > 0 && p[i + n - 1] == '\r') {
				deliver_data(m, 0, p + i, n - 1);
				deliver_eol(m, 0, "\r\n", 2);
			} else {
				deliver_data(m, 0, p + i, n);
				deliver_eol(m, 0, "\n", 1);
			}
			i += n + 1;
			m->lst = L_START;
		} else {
			size_t n = len - i;

			if (p[len - 1] == '\r') {
				m->pending_cr = 1;
				n--;
			}
			deliver_data(m, 0, p + i, n);
			i = len;
		}
	}
}

/* pn_mime_finish - the body is complete: end every open entity */
void pn_mime_finish(pn_mime *m)
{
	if (m->finished)
		return;
	body_start(m);
	if (!m->stopped) {
		if (m->lst == L_HOLD) {
			size_t n = pn_buf_len(&m->hold);

			if (n > 0 && m->hold.data[n - 1] == '\r')
				process_line(m, 0, m->hold.data, n - 1, "\r", 1);
			else
				process_line(m, 0, pn_buf_str(&m->hold), n, "", 0);
		} else if (m->lst == L_PASS) {
			if (m->pending_cr)
				deliver_data(m, 0, "\r", 1);
			deliver_eol(m, 0, "", 0);
		}
	}
	m->finished = 1;
	/* Each round pops a frame or ends one header section. */
	while (m->nfr > 0)
		close_top(m, 0);
}

/* pn_mime_free - release everything (accepts NULL) */
void pn_mime_free(pn_mime *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nfr; i++)
		frame_free(m->fr[i]);
	pn_free(m->fr);
	for (i = 0; i < m->nparts; i++) {
		pn_mime_part *p = m->parts[i];

		pn_free(p->content_type);
		pn_free(p->charset);
		pn_free(p->encoding);
		pn_free(p->filename);
		pn_free(p->text);
		pn_free(p->header);
		pn_free(p);
	}
	pn_free(m->parts);
	pn_buf_free(&m->hold);
	pn_buf_free(&m->scr);
	pn_free(m);
}

/* pn_mime_part_count - number of listed parts */
size_t pn_mime_part_count(const pn_mime *m)
{
	return m->nparts;
}

/* pn_mime_part_get - the i-th listed part, or NULL */
const pn_mime_part *pn_mime_part_get(const pn_mime *m, size_t i)
{
	return i < m->nparts ? m->parts[i] : NULL;
}

/* pn_mime_truncated - did a limit cut the walk short? */
int pn_mime_truncated(const pn_mime *m)
{
	return m->truncated;
}

/* pn_mime_body_bytes - body bytes fed so far */
unsigned long long pn_mime_body_bytes(const pn_mime *m)
{
	return m->body_bytes;
}

/* header_field - pass one field of a whole message's header section */
static void header_field(pn_mime *m, const char *s, size_t n)
{
	const char *colon;
	const char *nl = memchr(s, '\n', n);
	size_t first = nl ? (size_t)(nl - s) : n, ne, vs;
	char *name, *value;

	colon = memchr(s, ':', first);
	if (colon == NULL || !is_header_line(s, first, 1))
		return;	/* an mbox "From " line or junk */
	ne = (size_t)(colon - s);
	while (ne > 0 && (s[ne - 1] == ' ' || s[ne - 1] == '\t'))
		ne--;
	vs = (size_t)(colon - s) + 1;
	while (vs < n && (s[vs] == ' ' || s[vs] == '\t'))
		vs++;
	name = pn_memdup0(s, ne);
	value = pn_memdup0(s + vs, n - vs);
	pn_mime_header(m, name, value);
	pn_free(name);
	pn_free(value);
}

/* pn_mime_feed_headers - feed a whole message's header section */
size_t pn_mime_feed_headers(pn_mime *m, const void *msg, size_t len)
{
	const char *s = msg;
	size_t i = 0, fs = 0, fe = 0;
	int have = 0;

	/* Each round consumes one line. */
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t next = nl ? (size_t)(nl - s) + 1 : len;
		size_t end = nl ? (size_t)(nl - s) : len;

		if (end > i && s[end - 1] == '\r')
			end--;
		if (end == i) {		/* blank line: the body follows */
			i = next;
			break;
		}
		if (s[i] == ' ' || s[i] == '\t') {
			if (have)
				fe = end;
		} else {
			if (have)
				header_field(m, s + fs, fe - fs);
			have = 1;
			fs = i;
			fe = end;
		}
		i = next;
	}
	if (have)
		header_field(m, s + fs, fe - fs);
	return i;
}

/* pn_mime_parse_message - walk a whole message at once */
pn_mime *pn_mime_parse_message(const void *msg, size_t len)
{
	pn_mime *m = pn_mime_new(NULL);
	size_t off = pn_mime_feed_headers(m, msg, len);

	pn_mime_body(m, (const char *)msg + off, len - off);
	pn_mime_finish(m);
	return m;
}

/* pn_mime_value_type - "type/subtype" of a Content-Type value, or the
 * disposition type of a Content-Disposition value, in lower case */
char *pn_mime_value_type(const char *value, int content_type)
{
	plist pl;
	char *t;
	size_t e;

	if (!content_type)
		return first_token(value, strlen(value), &e);
	t = parse_ctype(value, &pl);
	plist_free(&pl);
	return t;
}

/* one_param - a single-valued parameter decoded as param_get() does */
static char *one_param(const param *p)
{
	char *charset = NULL, *out;
	pn_buf b;
	size_t off;

	if (!p->ext)
		return pn_rfc2047_decode(p->value, p->vlen);
	pn_buf_init(&b, 0);
	off = split_2231(p->value, p->vlen, &charset);
	pct_decode(&b, p->value + off, p->vlen - off);
	out = to_utf8(charset, pn_buf_str(&b), pn_buf_len(&b));
	pn_buf_free(&b);
	pn_free(charset);
	return out;
}

/* pn_mime_value_params - every value of a parameter of a Content-Type or
 * Content-Disposition value, decoded as the walk decodes filenames: the
 * one the walk takes first, then each other occurrence of the name (a
 * sender may repeat it, and readers differ in which they show) */
size_t pn_mime_value_params(const char *value, const char *name, char ***out)
{
	plist pl;
	size_t n = strlen(value), i, e, len, count = 0;
	char *first, *lname = pn_strdup(name);

	*out = NULL;
	lower(lname);
	i = skip_cfws(value, n, 0);
	e = token_end(value, n, i);
	i = skip_cfws(value, n, e);
	if (i < n && value[i] == '/')	/* a Content-Type: past the subtype */
		i = token_end(value, n, skip_cfws(value, n, i + 1));
	parse_params(value, n, i, &pl);
	if ((first = param_get(&pl, lname, 1, &len)) != NULL) {
		*out = pn_calloc(pl.n + 2, sizeof(**out));
		(*out)[count++] = first;
		for (i = 0; i < pl.n; i++) {
			char *v;
			size_t k;

			if (pl.v[i].section >= 0 || strcmp(pl.v[i].name, lname) != 0)
				continue;
			v = one_param(&pl.v[i]);
			for (k = 0; k < count && strcmp((*out)[k], v) != 0; k++)
				;
			if (k < count || *v == '\0')
				pn_free(v);
			else
				(*out)[count++] = v;
		}
	}
	plist_free(&pl);
	pn_free(lname);
	return count;
}
