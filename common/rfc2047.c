/* SPDX-License-Identifier: BSD-2-Clause */
/* rfc2047 - header values and foreign charsets to valid UTF-8 (see rfc2047.h) */
#include "common/rfc2047.h"
#include "common/alloc.h"
#include "common/codec.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REPLACEMENT "\xEF\xBF\xBD"	/* U+FFFD in UTF-8 */
#define REPLACEMENT_LEN 3
#define CHARSET_MAX 64			/* longest charset name we try */
#define UTF8_NAME "utf-8"		/* handled without iconv */

/* Output string that grows; unlike pn_buf it has no ceiling because
 * every caller's input is already bounded and the output is at most a
 * small multiple of it. */
typedef struct ostr {
	char *p;
	size_t len;
	size_t cap;
} ostr;

/* os_reserve - room for extra more bytes and a NUL */
static void os_reserve(ostr *o, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX / 2 - o->len)
		abort();	/* cannot happen for any input that fits in memory */
	need = o->len + extra + 1;
	if (need <= o->cap)
		return;
	cap = o->cap ? o->cap : 64;
	while (cap < need)
		cap *= 2;
	o->p = pn_realloc(o->p, cap);
	o->cap = cap;
}

/* os_put - append bytes */
static void os_put(ostr *o, const void *data, size_t len)
{
	os_reserve(o, len);
	if (len)
		memcpy(o->p + o->len, data, len);
	o->len += len;
	o->p[o->len] = '\0';
}

/* os_steal - hand the string to the caller ("" when nothing was put) */
static char *os_steal(ostr *o)
{
	if (o->p == NULL)
		return pn_strdup("");
	return o->p;
}

/* utf8_seq - length of the valid UTF-8 sequence at p, or 0 and the
 * length of the maximal invalid subpart in *skip; *cut says the
 * sequence was only invalid because the input ended inside it */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *skip, int *cut)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	*cut = 0;
	*skip = 1;
	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c < 0xC2)		/* NUL, continuation bytes, overlong leads */
		return 0;
	if (c < 0xE0) {
		need = 2;
	} else if (c < 0xF0) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c < 0xF5) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else {
		return 0;
	}
	for (i = 1; i < need; i++) {
		unsigned b;

		if (i >= n) {
			*skip = i;
			*cut = 1;
			return 0;
		}
		b = p[i];
		if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
			*skip = i;
			return 0;
		}
	}
	return need;
}

/* sanitize_into - write the sanitized form of in to out (if not NULL)
 * and return its length; with prefix, a sequence cut by the end of the
 * input is dropped rather than replaced */
static size_t sanitize_into(const unsigned char *in, size_t len, char *out, int prefix)
{
	size_t i = 0, o = 0, k, skip;
	int cut;

	while (i < len) {
		if (in[i] >= 0x01 && in[i] < 0x80) {
			/* a run of ASCII, the common case, in one copy */
			for (k = i + 1; k < len && in[k] >= 0x01 && in[k] < 0x80; k++)
				;
			if (out)
				memcpy(out + o, in + i, k - i);
			o += k - i;
			i = k;
			continue;
		}
		k = utf8_seq(in + i, len - i, &skip, &cut);
		if (k > 0) {
			if (out)
				memcpy(out + o, in + i, k);
			o += k;
			i += k;
			continue;
		}
		if (cut && prefix)
			break;
		if (out)
			memcpy(out + o, REPLACEMENT, REPLACEMENT_LEN);
		o += REPLACEMENT_LEN;
		i += skip;
	}
	return o;
}

/* os_sanitize - append bytes made valid UTF-8 */
static void os_sanitize(ostr *o, const void *data, size_t len, int prefix)
{
	size_t n = sanitize_into(data, len, NULL, prefix);

	os_reserve(o, n);
	sanitize_into(data, len, o->p + o->len, prefix);
	o->len += n;
	o->p[o->len] = '\0';
}

/* pn_utf8_valid - 1 when the bytes need no replacement */
int pn_utf8_valid(const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	size_t i = 0, k, skip;
	int cut;

	while (i < len) {
		k = utf8_seq(p + i, len - i, &skip, &cut);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* pn_utf8_sanitize_len - length pn_utf8_sanitize would produce */
size_t pn_utf8_sanitize_len(const void *bytes, size_t len)
{
	return sanitize_into(bytes, len, NULL, 0);
}

/* pn_utf8_sanitize - copy bytes as valid UTF-8 */
char *pn_utf8_sanitize(const void *bytes, size_t len)
{
	ostr o = {0};

	os_sanitize(&o, bytes, len, 0);
	return os_steal(&o);
}

/* unfold - copy without line breaks; *outlen gets the length */
static char *unfold(const char *value, size_t len, size_t *outlen)
{
	char *out = pn_malloc(len + 1);
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (value[i] != '\r' && value[i] != '\n')
			out[n++] = value[i];
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* pn_header_unfold - one line from a folded header value */
char *pn_header_unfold(const char *value, size_t len)
{
	size_t n;

	return unfold(value, len, &n);
}

/* Labels that senders use for a wider set than they name (WHATWG
 * encoding standard) and labels iconv spells differently. */
static const struct {
	const char *label;
	const char *name;
} charset_alias[] = {
	{"us-ascii", UTF8_NAME}, {"ascii", UTF8_NAME}, {"us", UTF8_NAME},
	{"ansi_x3.4-1968", UTF8_NAME}, {"utf8", UTF8_NAME},
	{"iso-8859-1", "windows-1252"}, {"iso8859-1", "windows-1252"},
	{"iso_8859-1", "windows-1252"}, {"latin1", "windows-1252"},
	{"l1", "windows-1252"}, {"cp819", "windows-1252"},
	{"ibm819", "windows-1252"}, {"iso-ir-100", "windows-1252"},
	{"gb2312", "gb18030"}, {"gbk", "gb18030"}, {"x-gbk", "gb18030"},
	{"cp936", "gb18030"}, {"euc-cn", "gb18030"},
	{"euc-kr", "cp949"}, {"ks_c_5601-1987", "cp949"},
	{"shift_jis", "cp932"}, {"shift-jis", "cp932"}, {"sjis", "cp932"},
	{"x-sjis", "cp932"}, {"ms_kanji", "cp932"},
	{"iso-8859-8-i", "iso-8859-8"}, {"tis-620", "cp874"},
};

/* charset_char - may c appear in a charset name we pass to iconv? */
static int charset_char(unsigned char c)
{
	/* no '/' or ',': iconv would read them as conversion options */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == ':' || c == '+' || c == '(' || c == ')';
}

/* charset_norm - lower-case iconv name for a MIME charset label, or NULL */
static char *charset_norm(const char *cs, size_t len)
{
	const char *star = memchr(cs, '*', len);
	size_t i;
	char *s;

	if (star)	/* RFC 2231 language suffix */
		len = (size_t)(star - cs);
	while (len > 0 && (cs[0] == ' ' || cs[0] == '\t'))
		cs++, len--;
	while (len > 0 && (cs[len - 1] == ' ' || cs[len - 1] == '\t'))
		len--;
	if (len == 0 || len > CHARSET_MAX)
		return NULL;
	for (i = 0; i < len; i++)
		if (!charset_char((unsigned char)cs[i]))
			return NULL;
	s = pn_memdup0(cs, len);
	for (i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	for (i = 0; i < sizeof(charset_alias) / sizeof(charset_alias[0]); i++) {
		if (strcmp(s, charset_alias[i].label) == 0) {
			pn_free(s);
			return pn_strdup(charset_alias[i].name);
		}
	}
	return s;
}

/* A converter for one charset name: iconv descriptor, or UTF-8 itself. */
typedef struct conv {
	char *name;
	iconv_t cd;
	int utf8;
} conv;

/* conv_open - prepare to convert from a normalised name; -1 if unknown */
static int conv_open(conv *c, char *name)
{
	c->name = name;
	c->utf8 = strcmp(name, UTF8_NAME) == 0;
	c->cd = (iconv_t)-1;
	if (c->utf8)
		return 0;
	c->cd = iconv_open("UTF-8", name);
	if (c->cd == (iconv_t)-1) {
		pn_free(name);
		c->name = NULL;
		return -1;
	}
	return 0;
}

/* conv_close - release a converter */
static void conv_close(conv *c)
{
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	c->cd = (iconv_t)-1;
	pn_free(c->name);
	c->name = NULL;
}

/* conv_run - append in converted to UTF-8; bytes invalid in the charset
 * become U+FFFD, and the result is checked because UTF-8 is promised */
static void conv_run(conv *c, const void *in, size_t len, ostr *o, int prefix)
{
	char *ip = (char *)(uintptr_t)in;
	size_t il = len, start = o->len, r;
	unsigned tries;

	if (c->utf8) {
		os_sanitize(o, in, len, prefix);
		return;
	}
	iconv(c->cd, NULL, NULL, NULL, NULL);
	os_reserve(o, len + 16);
	/* Each round consumes input or grows the output, so it ends. */
	while (il > 0) {
		char *op = o->p + o->len;
		size_t ol = o->cap - o->len - 1;

		r = iconv(c->cd, &ip, &il, &op, &ol);
		o->len = (size_t)(op - o->p);
		o->p[o->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			os_reserve(o, o->cap - o->len + 64);
		} else if (errno == EILSEQ) {
			os_put(o, REPLACEMENT, REPLACEMENT_LEN);
			ip++, il--;
		} else {	/* EINVAL: input ends inside a character */
			if (!prefix)
				os_put(o, REPLACEMENT, REPLACEMENT_LEN);
			break;
		}
	}
	/* Stateful charsets (ISO-2022-JP) may owe a final shift sequence. */
	for (tries = 0; tries < 8; tries++) {
		char *op = o->p + o->len;
		size_t ol = o->cap - o->len - 1;

		r = iconv(c->cd, NULL, NULL, &op, &ol);
		o->len = (size_t)(op - o->p);
		o->p[o->len] = '\0';
		if (r != (size_t)-1 || errno != E2BIG)
			break;
		os_reserve(o, o->cap - o->len + 64);
	}
	if (!pn_utf8_valid(o->p + start, o->len - start)) {
		char *copy = pn_memdup0(o->p + start, o->len - start);
		size_t n = o->len - start;

		o->len = start;
		os_sanitize(o, copy, n, 0);
		pn_free(copy);
	}
}

/* convert_new - shared body of the two public converters */
static char *convert_new(const char *charset, const void *bytes, size_t len, int prefix)
{
	char *name = charset_norm(charset, strlen(charset));
	conv c;
	ostr o = {0};

	if (name == NULL || conv_open(&c, name) < 0)
		return NULL;
	conv_run(&c, bytes, len, &o, prefix);
	conv_close(&c);
	return os_steal(&o);
}

/* pn_charset_to_utf8 - convert bytes in a MIME charset; NULL if unknown */
char *pn_charset_to_utf8(const char *charset, const void *bytes, size_t len)
{
	return convert_new(charset, bytes, len, 0);
}

/* pn_charset_to_utf8_prefix - same, for text cut at an arbitrary byte */
char *pn_charset_to_utf8_prefix(const char *charset, const void *bytes, size_t len)
{
	return convert_new(charset, bytes, len, 1);
}

/* pn_charset_known - would pn_charset_to_utf8 accept this charset? */
int pn_charset_known(const char *charset)
{
	char *name = charset_norm(charset, strlen(charset));
	conv c;

	if (name == NULL || conv_open(&c, name) < 0)
		return 0;
	conv_close(&c);
	return 1;
}

/* decode_q - RFC 2047 Q text to bytes; -1 on a broken escape */
static int decode_q(const char *t, size_t n, ostr *raw)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '_') {
			os_put(raw, " ", 1);
		} else if (c == '=') {
			int h, l;

			if (i + 2 >= n)
				return -1;
			h = pn_hex_value((unsigned char)t[i + 1]);
			l = pn_hex_value((unsigned char)t[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			os_put(raw, &c, 1);
			i += 2;
		} else {
			os_put(raw, &c, 1);
		}
	}
	return 0;
}

/* decode_b - RFC 2047 B text to bytes; missing padding is forgiven
 * because many senders drop it, anything else broken gives -1 */
static int decode_b(const char *t, size_t n, ostr *raw)
{
	unsigned acc = 0, k = 0;
	size_t i;
	int pad = 0;

	for (i = 0; i < n; i++) {
		int v;

		if (t[i] == '=') {
			pad = 1;
			continue;
		}
		if (pad)	/* data after padding */
			return -1;
		v = pn_base64_value((unsigned char)t[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		if (++k == 4) {
			unsigned char b[3] = {(unsigned char)(acc >> 16),
					      (unsigned char)(acc >> 8),
					      (unsigned char)acc};

			os_put(raw, b, 3);
			acc = 0;
			k = 0;
		}
	}
	if (k == 1)
		return -1;
	if (k == 2) {
		unsigned char b = (unsigned char)(acc >> 4);

		os_put(raw, &b, 1);
	} else if (k == 3) {
		unsigned char b[2] = {(unsigned char)(acc >> 10), (unsigned char)(acc >> 2)};

		os_put(raw, b, 2);
	}
	return 0;
}

/* ew_parse - recognise and decode an encoded-word at p (p[0..1] is "=?");
 * sets the word's length, its charset span and appends its bytes */
static int ew_parse(const char *p, size_t n, size_t *wlen, const char **cs,
		    size_t *cslen, ostr *raw)
{
	size_t i = 2, t0, start = raw->len;
	char enc;
	int rc;

	while (i < n && i - 2 <= CHARSET_MAX * 2 && p[i] != '?' &&
	       (unsigned char)p[i] > ' ' && p[i] != 0x7f)
		i++;
	if (i >= n || p[i] != '?' || i == 2)
		return -1;
	*cs = p + 2;
	*cslen = i - 2;
	if (i + 2 >= n || p[i + 2] != '?')
		return -1;
	enc = p[i + 1];
	if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q')
		return -1;
	t0 = i + 3;
	for (i = t0; i < n && p[i] != '?'; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return -1;
	if (i + 1 >= n || p[i + 1] != '=')
		return -1;
	if (enc == 'B' || enc == 'b')
		rc = decode_b(p + t0, i - t0, raw);
	else
		rc = decode_q(p + t0, i - t0, raw);
	if (rc < 0) {
		raw->len = start;
		return -1;
	}
	*wlen = i + 2;
	return 0;
}

/* all_ws - is the span only spaces and tabs (or empty)? */
static int all_ws(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* Adjacent encoded-words in one charset, waiting to be converted
 * together. */
typedef struct run {
	int active;
	ostr raw;
} run;

/* run_flush - convert a pending run into out */
static void run_flush(run *r, conv *c, ostr *out)
{
	if (!r->active)
		return;
	conv_run(c, r->raw.p ? r->raw.p : "", r->raw.len, out, 0);
	r->raw.len = 0;
	r->active = 0;
}

/* pn_rfc2047_decode - unfold and decode a header value to UTF-8 */
char *pn_rfc2047_decode(const char *value, size_t len)
{
	size_t n, i = 0, lit = 0, wlen, cslen;
	char *u = unfold(value, len, &n);	/* NULs too: they become U+FFFD */
	const char *cs;
	ostr out = {0}, word = {0};
	run r = {0};
	conv c = {NULL, (iconv_t)-1, 0};

	/* Each step advances i, so the loop ends after n steps. */
	while (i < n) {
		char *name;
		int join;

		if (u[i] != '=' || i + 1 >= n || u[i + 1] != '?') {
			i++;
			continue;
		}
		word.len = 0;
		if (ew_parse(u + i, n - i, &wlen, &cs, &cslen, &word) < 0 ||
		    (name = charset_norm(cs, cslen)) == NULL) {
			i++;
			continue;
		}
		/* Only whitespace since the last word: RFC 2047 drops it. */
		join = r.active && all_ws(u + lit, i - lit);
		if (c.name == NULL || strcmp(c.name, name) != 0) {
			/* A new charset: the old run must be converted before
			 * its descriptor goes. */
			conv next;

			if (conv_open(&next, name) < 0) {
				i++;
				continue;
			}
			run_flush(&r, &c, &out);
			conv_close(&c);
			c = next;
		} else {
			pn_free(name);
		}
		if (!join) {
			run_flush(&r, &c, &out);
			os_sanitize(&out, u + lit, i - lit, 0);
		}
		r.active = 1;
		os_put(&r.raw, word.p, word.len);
		i += wlen;
		lit = i;
	}
	run_flush(&r, &c, &out);
	os_sanitize(&out, u + lit, n - lit, 0);
	conv_close(&c);
	pn_free(r.raw.p);
	pn_free(word.p);
	pn_free(u);
	return os_steal(&out);
}
