/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_match - comparators (RFC 4790) and match types for Sieve
 *
 * i;octet compares bytes, i;ascii-casemap folds A-Z to a-z first and
 * i;ascii-numeric compares the decimal numbers the strings start with
 * (a string that does not start with a digit is positive infinity).
 * :matches keys are patterns with "*" (any run), "?" (one character) and
 * backslash escapes; the matcher tries each "*" as short as possible,
 * left to right, which gives the match variables RFC 5229 describes, and
 * remembers failed (token, position) pairs so that no pattern can take
 * more than tokens x length steps.
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"

#include <stdio.h>
#include <string.h>

/* fold - ASCII lower case */
static unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* char_eq - two bytes equal under the comparator */
static int char_eq(int cmp, unsigned char a, unsigned char b)
{
	return cmp == SV_CMP_OCTET ? a == b : fold(a) == fold(b);
}

/* utf8_len - length of the character at s (invalid bytes count as one) */
static size_t utf8_len(const char *s, size_t left)
{
	unsigned char c = (unsigned char)s[0];
	size_t n, i;

	if (c < 0xc0 || c > 0xf4)
		return 1;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n > left)
		return 1;
	for (i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* numeric_prefix - the digits a string starts with, leading zeros skipped */
static int numeric_prefix(const char *s, size_t len, const char **digits, size_t *ndigits)
{
	size_t i = 0, start;

	if (len == 0 || s[0] < '0' || s[0] > '9')
		return 0;	/* positive infinity */
	while (i < len && s[i] == '0')
		i++;
	start = i;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	*digits = s + start;
	*ndigits = i - start;
	return 1;
}

/* sv_compare - order of a and b under the comparator: <0, 0, >0 */
int sv_compare(int cmp, const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i, n = alen < blen ? alen : blen;

	if (cmp == SV_CMP_NUMERIC) {
		const char *da = NULL, *db = NULL;
		size_t na = 0, nb = 0;
		int fa = numeric_prefix(a, alen, &da, &na);
		int fb = numeric_prefix(b, blen, &db, &nb);
		int c;

		if (!fa || !fb)
			return fa == fb ? 0 : fa ? -1 : 1;
		if (na != nb)
			return na < nb ? -1 : 1;
		c = na ? memcmp(da, db, na) : 0;
		return c < 0 ? -1 : c > 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (cmp == SV_CMP_CASEMAP) {
			x = fold(x);
			y = fold(y);
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return alen == blen ? 0 : alen < blen ? -1 : 1;
}

/* relation - apply a relational operator to an ordering */
static int relation(int rel, int order)
{
	switch (rel) {
	case SV_REL_GT: return order > 0;
	case SV_REL_GE: return order >= 0;
	case SV_REL_LT: return order < 0;
	case SV_REL_LE: return order <= 0;
	case SV_REL_EQ: return order == 0;
	default: return order != 0;
	}
}

/* fold_copy - an ASCII lower-case copy */
static char *fold_copy(const char *s, size_t len)
{
	char *d = pn_malloc(len + 1);
	size_t i;

	for (i = 0; i < len; i++)
		d[i] = (char)fold((unsigned char)s[i]);
	d[len] = '\0';
	return d;
}

/*
 * contains - substring search under the comparator
 *
 * Linear in vlen + klen whatever the input: glibc's memmem() is the
 * two-way algorithm; under ascii-casemap both sides are folded first
 * (a naive search costs vlen x klen on "aaa...a" against "aa...ab").
 */
static int contains(int cmp, const char *v, size_t vlen, const char *k, size_t klen)
{
	char *fv, *fk;
	int r;

	if (klen == 0)
		return 1;
	if (klen > vlen)
		return 0;
	if (cmp == SV_CMP_OCTET)
		return memmem(v, vlen, k, klen) != NULL;
	fv = fold_copy(v, vlen);
	fk = fold_copy(k, klen);
	r = memmem(fv, vlen, fk, klen) != NULL;
	pn_free(fv);
	pn_free(fk);
	return r;
}

/* ---- :matches ----------------------------------------------------------- */

enum { W_LIT, W_ONE, W_STAR };

typedef struct wtok {
	int type;
	size_t off, len;	/* W_LIT: bytes in the unescaped literal buffer */
	int var;		/* index of the wildcard (0-based), for captures */
} wtok;

typedef struct wmatch {
	const char *v;
	size_t vlen;
	const wtok *t;
	size_t nt;
	const char *lit;
	int cmp;
	unsigned char *failed;	/* (token, position) pairs known to fail, or NULL */
	size_t *star_fail;	/* per token: a star failed from this position on */
	size_t *cap_start, *cap_end;
	unsigned long *steps;
	int out_of_steps;
} wmatch;

/* lit_at - the literal token matches at v[pos] */
static int lit_at(const wmatch *w, const wtok *t, size_t pos)
{
	size_t i;

	if (pos + t->len > w->vlen)
		return 0;
	for (i = 0; i < t->len; i++)
		if (!char_eq(w->cmp, (unsigned char)w->v[pos + i], (unsigned char)w->lit[t->off + i]))
			return 0;
	return 1;
}

/* wild - match tokens from ti at pos, each star as short as possible */
static int wild(wmatch *w, size_t ti, size_t pos)
{
	const wtok *t;
	size_t bit;
	int r;

	if (w->steps && (*w->steps)-- == 0) {
		w->out_of_steps = 1;
		return 0;
	}
	if (ti == w->nt)
		return pos == w->vlen;
	bit = ti * (w->vlen + 1) + pos;
	if (w->failed && (w->failed[bit / 8] & (1u << (bit % 8))))
		return 0;
	t = &w->t[ti];
	r = 0;
	if (t->type == W_LIT) {
		/* comparing the literal is work too: a step per 32 bytes */
		if (w->steps && t->len >= 32) {
			unsigned long cost = t->len / 32;
			if (*w->steps < cost) {
				w->out_of_steps = 1;
				return 0;
			}
			*w->steps -= cost;
		}
		r = lit_at(w, t, pos) && wild(w, ti + 1, pos + t->len);
	} else if (t->type == W_ONE) {
		if (pos < w->vlen) {
			size_t n = utf8_len(w->v + pos, w->vlen - pos);
			if (wild(w, ti + 1, pos + n)) {
				w->cap_start[t->var] = pos;
				w->cap_end[t->var] = pos + n;
				r = 1;
			}
		}
	} else {
		size_t e = pos;

		/* a star that failed from p fails from any later position too */
		if (pos >= w->star_fail[ti])
			return 0;
		for (;;) {
			if (w->out_of_steps)
				return 0;
			if (wild(w, ti + 1, e)) {
				w->cap_start[t->var] = pos;
				w->cap_end[t->var] = e;
				r = 1;
				break;
			}
			if (e >= w->vlen)
				break;
			e += utf8_len(w->v + e, w->vlen - e);
		}
		if (!r && pos < w->star_fail[ti])
			w->star_fail[ti] = pos;
	}
	if (!r && w->failed)
		w->failed[bit / 8] |= (unsigned char)(1u << (bit % 8));
	return r;
}

/* tokenize - split a :matches key into literal runs, "?" and "*" */
static size_t tokenize(const char *k, size_t klen, wtok *t, char *lit, int *nvars)
{
	size_t i, n = 0, l = 0;
	int var = 0;

	for (i = 0; i < klen; i++) {
		char c = k[i];
		if (c == '*' || c == '?') {
			t[n].type = c == '*' ? W_STAR : W_ONE;
			t[n].var = var++;
			t[n].off = t[n].len = 0;
			n++;
			continue;
		}
		if (c == '\\' && i + 1 < klen)
			c = k[++i];
		if (n == 0 || t[n - 1].type != W_LIT) {
			t[n].type = W_LIT;
			t[n].off = l;
			t[n].len = 0;
			t[n].var = -1;
			n++;
		}
		lit[l++] = c;
		t[n - 1].len++;
	}
	*nvars = var;
	return n;
}

/* set_capture - one match variable */
static void set_capture(sv_captures *caps, int i, const char *s, size_t len)
{
	pn_free(caps->v[i]);
	caps->v[i] = pn_memdup0(s, len);
	caps->len[i] = len;
}

/* sv_captures_clear - forget every match variable */
void sv_captures_clear(sv_captures *c)
{
	int i;

	for (i = 0; i < SV_MAX_MATCH_VARS; i++) {
		pn_free(c->v[i]);
		c->v[i] = NULL;
		c->len[i] = 0;
	}
}

/* matches - the :matches match type */
static int matches(int cmp, const char *v, size_t vlen, const char *k, size_t klen,
		   sv_captures *caps, unsigned long *steps)
{
	wtok *t = pn_malloc((klen + 1) * sizeof(*t));
	char *lit = pn_malloc(klen + 1);
	int nvars, r, i, stars = 0;
	size_t nt = tokenize(k, klen, t, lit, &nvars), j;
	size_t *cs = pn_calloc((size_t)nvars + 1, sizeof(size_t));
	size_t *ce = pn_calloc((size_t)nvars + 1, sizeof(size_t));
	wmatch w;

	memset(&w, 0, sizeof(w));
	w.v = v;
	w.vlen = vlen;
	w.t = t;
	w.nt = nt;
	w.lit = lit;
	w.cmp = cmp;
	w.cap_start = cs;
	w.cap_end = ce;
	w.steps = steps;
	w.star_fail = pn_malloc((nt + 1) * sizeof(size_t));
	for (j = 0; j < nt; j++) {
		stars += t[j].type == W_STAR;
		w.star_fail[j] = (size_t)-1;
	}
	/* With two stars or more, backtracking could revisit pairs: remember
	 * the failures when the table is of reasonable size (else the step
	 * budget bounds the work). */
	if (stars >= 2 && (nt + 1) * (vlen + 1) / 8 < 16 * 1024 * 1024)
		w.failed = pn_calloc((nt + 1) * (vlen + 1) / 8 + 1, 1);
	r = wild(&w, 0, 0);
	if (w.out_of_steps)
		r = -1;
	if (r == 1 && caps && caps->wanted) {
		sv_captures_clear(caps);
		set_capture(caps, 0, v, vlen);
		for (i = 0; i < nvars && i + 1 < SV_MAX_MATCH_VARS; i++)
			set_capture(caps, i + 1, v + cs[i], ce[i] - cs[i]);
	}
	pn_free(w.failed);
	pn_free(w.star_fail);
	pn_free(cs);
	pn_free(ce);
	pn_free(t);
	pn_free(lit);
	return r;
}

/* ---- :regex ------------------------------------------------------------- */

/*
 * regex_cost - how many tree nodes glibc's regcomp() builds, roughly
 *
 * regcomp() copies the sub-tree of a bounded repetition once per count and
 * turns "x+" into "xx*", so "a++++..." or "(a{100}){100}" make it allocate
 * gigabytes from a short pattern (found by fuzzing). The estimate follows
 * that: an atom costs 1, "+" doubles what it applies to, "{m,n}" multiplies
 * it by n+1 (m+1 for "{m,}"), a group costs the sum of its contents. The
 * result saturates at REGEX_COST_CAP.
 */
#define REGEX_COST_CAP 1e12
#define REGEX_COST_LIMIT 20000.0
#define REGEX_MAX_DEPTH 64

static double regex_cost(const char *p, size_t len)
{
	double sum[REGEX_MAX_DEPTH + 1] = {0}, last[REGEX_MAX_DEPTH + 1] = {0};
	int depth = 0;
	size_t i = 0;

	while (i < len) {
		char c = p[i];
		double atom = -1;

		if (c == '(') {
			if (depth == REGEX_MAX_DEPTH)
				return REGEX_COST_CAP;
			depth++;
			sum[depth] = last[depth] = 0;
			i++;
			continue;
		}
		if (c == ')' && depth > 0) {
			atom = sum[depth] + last[depth] + 1;
			depth--;
			i++;
		} else if (c == '+' || c == '*' || c == '?' || c == '{') {
			double factor = 1;
			if (c == '+') {
				factor = 2;
				i++;
			} else if (c == '{') {
				unsigned long m = 0, n = 0;
				int have_n = 0;
				for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++)
					m = m < 100000 ? m * 10 + (unsigned long)(p[i] - '0') : m;
				n = m;
				if (i < len && p[i] == ',') {
					n = 0;
					for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++, have_n = 1)
						n = n < 100000 ? n * 10 + (unsigned long)(p[i] - '0') : n;
					if (!have_n)
						n = m;
				}
				if (i < len && p[i] == '}')
					i++;
				factor = (double)(n > m ? n : m) + 1;
			} else {
				i++;
			}
			last[depth] *= factor;
			if (last[depth] > REGEX_COST_CAP)
				return REGEX_COST_CAP;
			continue;
		} else if (c == '[') {
			/* a bracket expression is one node: skip to its end */
			i++;
			if (i < len && p[i] == '^')
				i++;
			if (i < len && p[i] == ']')
				i++;
			while (i < len && p[i] != ']')
				i++;
			i++;
			atom = 1;
		} else if (c == '|') {
			sum[depth] += last[depth] + 1;
			last[depth] = 0;
			i++;
			continue;
		} else {
			i += (c == '\\' && i + 1 < len) ? 2 : 1;
			atom = 1;
		}
		sum[depth] += last[depth];
		last[depth] = atom;
		if (sum[depth] > REGEX_COST_CAP)
			return REGEX_COST_CAP;
	}
	while (depth > 0) {
		sum[depth - 1] += sum[depth] + last[depth];
		depth--;
	}
	return sum[0] + last[0];
}

/* sv_regex_compile - POSIX extended, case-insensitive under ascii-casemap */
int sv_regex_compile(regex_t *re, const char *pattern, int cmp, size_t max_size, char **err)
{
	size_t len = strlen(pattern), i;
	int rc, in_bracket = 0;

	if (len > max_size) {
		*err = pn_asprintf("regular expression of %zu bytes is above the limit of %zu", len,
				   max_size);
		return -1;
	}
	/* Back-references make matching exponential: refused. */
	for (i = 0; i < len; i++) {
		if (in_bracket) {
			if (pattern[i] == ']' && in_bracket > 1)
				in_bracket = 0;
			else
				in_bracket++;
			continue;
		}
		if (pattern[i] == '[') {
			in_bracket = 1;
			if (i + 1 < len && pattern[i + 1] == '^')
				i++;
			continue;
		}
		if (pattern[i] == '\\' && i + 1 < len) {
			if (pattern[i + 1] >= '1' && pattern[i + 1] <= '9') {
				*err = pn_asprintf("back-references (\\%c) are not supported in "
						   "regular expressions", pattern[i + 1]);
				return -1;
			}
			i++;
		}
	}
	if (regex_cost(pattern, len) > REGEX_COST_LIMIT) {
		*err = pn_asprintf("regular expression \"%s\" is too complex (nested or stacked "
				   "repetitions)", pattern);
		return -1;
	}
	rc = regcomp(re, pattern, REG_EXTENDED | (cmp == SV_CMP_CASEMAP ? REG_ICASE : 0));
	if (rc != 0) {
		char buf[256];
		regerror(rc, re, buf, sizeof(buf));
		*err = pn_asprintf("invalid regular expression \"%s\": %s", pattern, buf);
		return -1;
	}
	return 0;
}

/* regex_match - one value against a compiled expression */
static int regex_match(const regex_t *re, const char *v, size_t vlen, sv_captures *caps)
{
	regmatch_t pm[SV_MAX_MATCH_VARS];
	int i;

	pm[0].rm_so = 0;
	pm[0].rm_eo = (regoff_t)vlen;
	if (regexec(re, v, SV_MAX_MATCH_VARS, pm, REG_STARTEND) != 0)
		return 0;
	if (caps && caps->wanted) {
		sv_captures_clear(caps);
		for (i = 0; i < SV_MAX_MATCH_VARS; i++) {
			if (pm[i].rm_so < 0 || i > (int)re->re_nsub)
				set_capture(caps, i, "", 0);
			else
				set_capture(caps, i, v + pm[i].rm_so, (size_t)(pm[i].rm_eo - pm[i].rm_so));
		}
	}
	return 1;
}

/*
 * match_cost - steps charged before a comparison, for the work it does
 *
 * :is, :value and :contains are linear (see contains()): a step per 256
 * bytes. :matches charges its own steps as it goes (every position it
 * tries, and long literals). :regex runs glibc's matcher, which keeps
 * a set of states per byte and does more work per byte, the more so
 * with groups to capture: a step per 64 bytes per group.
 */
static unsigned long match_cost(const sv_matcher *m, size_t vlen, size_t klen,
				const regex_t *re)
{
	unsigned long cost = 1 + (vlen + klen) / 256;

	if (m->match == SV_MATCH_REGEX && re)
		cost += vlen / 64 * (1 + (unsigned long)re->re_nsub);
	return cost;
}

/* sv_match_value - one value against one key */
int sv_match_value(const sv_matcher *m, const char *val, size_t vlen, const char *key,
		   size_t klen, const regex_t *re, sv_captures *caps, unsigned long *steps)
{
	unsigned long cost = match_cost(m, vlen, klen, re);

	if (steps) {
		if (*steps < cost)
			return -1;
		*steps -= cost;
	}
	switch (m->match) {
	case SV_MATCH_IS:
		return sv_compare(m->cmp, val, vlen, key, klen) == 0;
	case SV_MATCH_CONTAINS:
		return contains(m->cmp, val, vlen, key, klen);
	case SV_MATCH_MATCHES:
		return matches(m->cmp, val, vlen, key, klen, caps, steps);
	case SV_MATCH_REGEX:
		return re ? regex_match(re, val, vlen, caps) : 0;
	case SV_MATCH_VALUE:
		return relation(m->rel, sv_compare(m->cmp, val, vlen, key, klen));
	default:
		return 0;
	}
}

/* sv_match_count - :count: the number of values against a key */
int sv_match_count(const sv_matcher *m, size_t count, const char *key, size_t klen)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%zu", count);

	return relation(m->rel, sv_compare(m->cmp, num, (size_t)n, key, klen));
}
