/* SPDX-License-Identifier: BSD-2-Clause */
/* config - main.cf-style configuration files (see config.h) */
#include "common/config.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Expansion depth at which we assume a runaway rather than a real need. */
#define EXPAND_DEPTH_MAX 100
/* A config file is hand-written; anything bigger is a mistake. */
#define FILE_MAX ((size_t)16 * 1024 * 1024)
/* Values quoted in messages are cut so one bad line stays readable. */
#define QUOTE_MAX 200

enum { TODO, BUSY, DONE };

typedef struct entry {
	const pn_param *p;
	char *raw;		/* as written (dump shows this, like postconf) */
	char *value;		/* expanded; canonical for ENUM */
	long long num;		/* INT, SIZE, TIME, BOOL */
	size_t line;		/* where the file set it; 0 for a default */
	int set;
	int state;
} entry;

struct pn_config {
	const pn_param *table;
	size_t n;
	entry *e;
	char *path;
};

typedef struct ctx {
	pn_config *cfg;
	const char *file;	/* name used in messages */
	pn_buf err;
	int failed;
	size_t stack[EXPAND_DEPTH_MAX + 2];	/* parameters being expanded */
	size_t sp;
} ctx;

/* is_space - white space as the file syntax sees it (locale-free) */
static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* is_name_char - characters a $name reference may contain, as in Postfix */
static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* type_name - for panics about table or getter misuse */
static const char *type_name(pn_param_type t)
{
	switch (t) {
	case PN_PARAM_STR: return "string";
	case PN_PARAM_INT: return "integer";
	case PN_PARAM_BOOL: return "boolean";
	case PN_PARAM_SIZE: return "size";
	case PN_PARAM_TIME: return "time";
	case PN_PARAM_ENUM: return "enum";
	}
	return "unknown-type";
}

/* check_table - panic on a table that cannot be right; return its size */
static size_t check_table(const pn_param *table)
{
	size_t n, i;
	const char *s;

	if (table == NULL)
		pn_panic("pn_config: NULL parameter table");
	for (n = 0; table[n].name != NULL; n++) {
		const pn_param *p = &table[n];
		if (*p->name == '\0')
			pn_panic("pn_config: empty parameter name in table");
		for (s = p->name; *s; s++)
			if (!is_name_char((unsigned char)*s))
				pn_panic("pn_config: parameter name \"%s\": only letters, digits and _ can be expanded with $",
					 p->name);
		if ((unsigned)p->type > PN_PARAM_ENUM)
			pn_panic("pn_config: parameter \"%s\": bad type %d", p->name, (int)p->type);
		if (p->min > p->max)
			pn_panic("pn_config: parameter \"%s\": min %lld > max %lld",
				 p->name, p->min, p->max);
		if (p->type == PN_PARAM_ENUM &&
		    (p->choices == NULL || *p->choices == '\0' ||
		     strstr(p->choices, "||") || *p->choices == '|' ||
		     p->choices[strlen(p->choices) - 1] == '|'))
			pn_panic("pn_config: parameter \"%s\": ENUM needs choices \"a|b|c\"",
				 p->name);
		for (i = 0; i < n; i++)
			if (strcmp(table[i].name, p->name) == 0)
				pn_panic("pn_config: parameter \"%s\" appears twice in the table",
					 p->name);
	}
	return n;
}

/* find - index of a parameter by name and length, or -1 */
static long find(const pn_config *cfg, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < cfg->n; i++)
		if (strncmp(cfg->table[i].name, name, len) == 0 &&
		    cfg->table[i].name[len] == '\0')
			return (long)i;
	return -1;
}

/* distance - edit distance (with transpositions), capped above 2 */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t rows[3][66], i, j, best;
	size_t *pp, *prev, *cur;

	if ((la > lb ? la - lb : lb - la) > 2 || la > 64 || lb > 64)
		return 3;
	for (j = 0; j <= lb; j++)
		rows[1][j] = j;
	pp = rows[0];
	prev = rows[1];
	cur = rows[2];
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		best = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t d = prev[j - 1] + cost;
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
			if (d < best)
				best = d;
		}
		if (best > 2)
			return 3;
		{
			size_t *t = pp;
			pp = prev;
			prev = cur;
			cur = t;
		}
	}
	return prev[lb];
}

/* quote - append s in double quotes, cut if it would drown the message */
static void quote(pn_buf *b, const char *s, size_t len)
{
	pn_buf_putc(b, '"');
	if (len > QUOTE_MAX) {
		pn_buf_append(b, s, QUOTE_MAX);
		pn_buf_puts(b, "...");
	} else {
		pn_buf_append(b, s, len);
	}
	pn_buf_putc(b, '"');
}

/* err_at - start the error message with file:line (line 0: file only) */
static pn_buf *err_at(ctx *c, size_t line)
{
	c->failed = 1;
	pn_buf_reset(&c->err);
	if (line)
		pn_buf_printf(&c->err, "%s:%zu: ", c->file, line);
	else
		pn_buf_printf(&c->err, "%s: ", c->file);
	return &c->err;
}

/* value_err - error about one parameter's value; returns -1 */
static int value_err(ctx *c, size_t idx, const char *rule)
{
	const entry *e = &c->cfg->e[idx];
	pn_buf *b;

	if (c->failed)		/* keep the first, innermost message */
		return -1;
	b = err_at(c, e->line);
	pn_buf_printf(b, "parameter \"%s\" = ", e->p->name);
	quote(b, e->raw, strlen(e->raw));
	if (!e->set)
		pn_buf_puts(b, " (default)");
	if (e->value != NULL && strcmp(e->value, e->raw) != 0) {
		pn_buf_puts(b, " (expands to ");
		quote(b, e->value, strlen(e->value));
		pn_buf_putc(b, ')');
	}
	pn_buf_puts(b, ": ");
	pn_buf_puts(b, rule);
	return -1;
}

/* scan_digits - unsigned decimal at s; -1 none, -2 overflow past limit */
static int scan_digits(const char **s, unsigned long long limit,
		       unsigned long long *out)
{
	unsigned long long acc = 0;
	int over = 0;

	if (**s < '0' || **s > '9')
		return -1;
	for (; **s >= '0' && **s <= '9'; (*s)++) {
		unsigned d = (unsigned)(**s - '0');
		if (acc > (limit - d) / 10)
			over = 1;
		else
			acc = acc * 10 + d;
	}
	*out = acc;
	return over ? -2 : 0;
}

/* parse_int - decimal integer, optionally negative */
static int parse_int(const char *s, long long *out)
{
	unsigned long long u;
	int neg = (*s == '-'), r;

	s += neg;
	r = scan_digits(&s, neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX, &u);
	if (r == -1 || *s != '\0')
		return -1;
	if (r == -2)
		return -2;
	*out = neg ? (u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u)
		   : (long long)u;
	return 0;
}

/* parse_scaled - number with an optional one-letter unit from units */
static int parse_scaled(const char *s, const char *units,
			const long long *mult, long long *out)
{
	unsigned long long u;
	const char *unit;
	long long m = 1;
	int r = scan_digits(&s, LLONG_MAX, &u);

	if (r == -1)
		return -1;
	if (*s != '\0') {
		unit = strchr(units, (*s >= 'A' && *s <= 'Z') ? *s - 'A' + 'a' : *s);
		if (unit == NULL || s[1] != '\0')
			return -1;
		m = mult[unit - units];
	}
	if (r == -2 || (long long)u > LLONG_MAX / m)
		return -2;
	*out = (long long)u * m;
	return 0;
}

static const long long size_mult[] = { 1024LL, 1024LL * 1024, 1024LL * 1024 * 1024 };
static const long long time_mult[] = { 1, 60, 3600, 86400, 604800 };

/* fmt_bound - a bound in the unit a user would write it in */
static void fmt_bound(pn_buf *b, pn_param_type t, long long v)
{
	static const char size_units[] = "gmk", time_units[] = "wdhm";
	static const long long size_div[] = { 1024LL * 1024 * 1024, 1024LL * 1024, 1024LL };
	static const long long time_div[] = { 604800, 86400, 3600, 60 };
	const char *units = t == PN_PARAM_SIZE ? size_units : time_units;
	const long long *div = t == PN_PARAM_SIZE ? size_div : time_div;
	size_t i;

	if (t == PN_PARAM_SIZE || t == PN_PARAM_TIME) {
		for (i = 0; v != 0 && units[i]; i++) {
			if (v % div[i] == 0) {
				pn_buf_printf(b, "%lld%c", v / div[i], units[i]);
				return;
			}
		}
	}
	pn_buf_printf(b, t == PN_PARAM_TIME ? "%llds" : "%lld", v);
}

/* choices_rule - "not a valid choice (use a, b or c)" */
static char *choices_rule(const char *choices)
{
	pn_buf b;
	const char *p = choices, *bar;

	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "not a valid choice (use ");
	while ((bar = strchr(p, '|')) != NULL) {
		pn_buf_append(&b, p, (size_t)(bar - p));
		p = bar + 1;
		pn_buf_puts(&b, strchr(p, '|') ? ", " : " or ");
	}
	pn_buf_puts(&b, p);
	pn_buf_putc(&b, ')');
	return pn_buf_steal(&b, NULL);
}

/* convert - check an expanded value against its type and bounds */
static int convert(ctx *c, size_t idx)
{
	entry *e = &c->cfg->e[idx];
	const pn_param *p = e->p;
	const char *v = e->value, *ch, *bar;
	int r = 0;
	size_t len;

	switch (p->type) {
	case PN_PARAM_STR:
		return 0;
	case PN_PARAM_BOOL:
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
		    !strcasecmp(v, "on") || !strcmp(v, "1"))
			e->num = 1;
		else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
			 !strcasecmp(v, "off") || !strcmp(v, "0"))
			e->num = 0;
		else
			return value_err(c, idx, "not a boolean (use yes or no)");
		return 0;
	case PN_PARAM_ENUM:
		len = strlen(v);
		for (ch = p->choices;; ch = bar + 1) {
			bar = strchr(ch, '|');
			if (!bar)
				bar = ch + strlen(ch);
			if ((size_t)(bar - ch) == len && strncasecmp(ch, v, len) == 0) {
				pn_free(e->value);
				e->value = pn_strndup(ch, len);
				return 0;
			}
			if (*bar == '\0')
				break;
		}
		{
			char *rule = choices_rule(p->choices);
			value_err(c, idx, rule);
			pn_free(rule);
		}
		return -1;
	case PN_PARAM_INT:
		r = parse_int(v, &e->num);
		if (r == -1)
			return value_err(c, idx, "not an integer");
		break;
	case PN_PARAM_SIZE:
		r = parse_scaled(v, "kmg", size_mult, &e->num);
		if (r == -1)
			return value_err(c, idx, "not a size (use a number with optional k, m or g)");
		break;
	case PN_PARAM_TIME:
		r = parse_scaled(v, "smhdw", time_mult, &e->num);
		if (r == -1)
			return value_err(c, idx, "not a time (use a number with optional s, m, h, d or w)");
		break;
	}
	if (r == -2)
		return value_err(c, idx, "number out of range");
	if (p->min != 0 || p->max != 0) {
		int below = e->num < p->min;
		if (below || e->num > p->max) {
			pn_buf rule;
			pn_buf_init(&rule, 0);
			pn_buf_puts(&rule, below ? "below the minimum " : "above the maximum ");
			fmt_bound(&rule, p->type, below ? p->min : p->max);
			value_err(c, idx, pn_buf_str(&rule));
			pn_buf_free(&rule);
			return -1;
		}
	}
	return 0;
}

static int resolve(ctx *c, size_t idx, int depth);

/* loop_err - name the chain of references that leads back to ref */
static int loop_err(ctx *c, size_t ref)
{
	pn_buf rule;
	size_t i = 0;

	while (i < c->sp && c->stack[i] != ref)
		i++;
	pn_buf_init(&rule, 0);
	pn_buf_puts(&rule, "expansion loop: ");
	for (; i < c->sp; i++)
		pn_buf_printf(&rule, "%s -> ", c->cfg->table[c->stack[i]].name);
	pn_buf_puts(&rule, c->cfg->table[ref].name);
	/* Blame where the loop starts: usually the line the user wrote. */
	value_err(c, ref, pn_buf_str(&rule));
	pn_buf_free(&rule);
	return -1;
}

/* expand - append text to out with every $reference replaced */
static int expand(ctx *c, size_t owner, const char *s, size_t n, pn_buf *out,
		  int depth)
{
	static const char too_long[] = "expanded value too long (more than 65536 bytes)";
	size_t i = 0, k, nl, restlen = 0;
	const char *name, *rest = NULL, *dollar, *v;
	char mode;
	long ref;

	if (depth > EXPAND_DEPTH_MAX)
		return value_err(c, owner, "expansion nested too deeply (more than 100 levels)");
	while (i < n) {
		if (s[i] != '$') {
			dollar = memchr(s + i, '$', n - i);
			k = dollar ? (size_t)(dollar - s) : n;
			if (pn_buf_append(out, s + i, k - i) < 0)
				return value_err(c, owner, too_long);
			i = k;
			continue;
		}
		if (i + 1 >= n)
			return value_err(c, owner, "\"$\" at the end of the value (write \"$$\" for a literal \"$\")");
		mode = '=';
		if (s[i + 1] == '$') {
			if (pn_buf_putc(out, '$') < 0)
				return value_err(c, owner, too_long);
			i += 2;
			continue;
		} else if (s[i + 1] == '{' || s[i + 1] == '(') {
			char open = s[i + 1], close = open == '{' ? '}' : ')';
			int level = 1;
			for (k = i + 2; k < n; k++) {
				if (s[k] == open)
					level++;
				else if (s[k] == close && --level == 0)
					break;
			}
			if (k >= n)
				return value_err(c, owner, close == '}' ? "missing \"}\" after \"${\"" :
						 "missing \")\" after \"$(\"");
			name = s + i + 2;
			for (nl = 0; name + nl < s + k && is_name_char((unsigned char)name[nl]); nl++)
				;
			rest = name + nl;
			restlen = (size_t)(s + k - rest);
			if (nl == 0 || (restlen > 0 && *rest != '?' && *rest != ':')) {
				pn_buf rule;
				pn_buf_init(&rule, 0);
				pn_buf_puts(&rule, "bad parameter name in ");
				quote(&rule, s + i, k + 1 - i);
				value_err(c, owner, pn_buf_str(&rule));
				pn_buf_free(&rule);
				return -1;
			}
			if (restlen > 0)
				mode = *rest;
			i = k + 1;
		} else if (is_name_char((unsigned char)s[i + 1])) {
			name = s + i + 1;
			for (nl = 0; i + 1 + nl < n && is_name_char((unsigned char)name[nl]); nl++)
				;
			i += 1 + nl;
		} else {
			return value_err(c, owner, "\"$\" not followed by a parameter name (write \"$$\" for a literal \"$\")");
		}
		ref = find(c->cfg, name, nl);
		if (ref < 0) {
			pn_buf rule;
			pn_buf_init(&rule, 0);
			pn_buf_puts(&rule, "unknown parameter ");
			quote(&rule, name, nl);
			pn_buf_puts(&rule, " in expansion");
			value_err(c, owner, pn_buf_str(&rule));
			pn_buf_free(&rule);
			return -1;
		}
		if (c->cfg->e[ref].state == BUSY)
			return loop_err(c, (size_t)ref);
		if (resolve(c, (size_t)ref, depth + 1) < 0)
			return -1;
		v = c->cfg->e[ref].value;
		if (mode == '=') {
			if (pn_buf_puts(out, v) < 0)
				return value_err(c, owner, too_long);
		} else if ((mode == '?') == (*v != '\0')) {
			if (expand(c, owner, rest + 1, restlen - 1, out, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

/* resolve - expand and check one parameter, and those it refers to */
static int resolve(ctx *c, size_t idx, int depth)
{
	entry *e = &c->cfg->e[idx];
	pn_buf out;

	if (e->state == DONE)
		return 0;
	if (depth > EXPAND_DEPTH_MAX || c->sp >= EXPAND_DEPTH_MAX + 1)
		return value_err(c, idx, "expansion nested too deeply (more than 100 levels)");
	e->state = BUSY;
	c->stack[c->sp++] = idx;
	pn_buf_init(&out, PN_CONFIG_LINE_MAX);
	if (expand(c, idx, e->raw, strlen(e->raw), &out, depth) < 0) {
		pn_buf_free(&out);
		return -1;
	}
	e->value = pn_buf_steal(&out, NULL);
	c->sp--;
	if (convert(c, idx) < 0)
		return -1;
	e->state = DONE;
	return 0;
}

/* define - record one "name = value" logical line */
static int define(ctx *c, const char *s, size_t len, size_t line)
{
	const char *end = s + len, *q = s, *r, *v;
	long idx;
	size_t i, best = 3, d;
	entry *e;
	pn_buf *b;

	while (q < end && *q != '=' && !is_space((unsigned char)*q))
		q++;
	for (r = q; r < end && is_space((unsigned char)*r); r++)
		;
	if (r == end || *r != '=' || q == s) {
		b = err_at(c, line);
		pn_buf_puts(b, q == s && r < end ? "missing parameter name in " : "missing \"=\" in ");
		quote(b, s, len);
		return -1;
	}
	for (v = r + 1; v < end && is_space((unsigned char)*v); v++)
		;
	idx = find(c->cfg, s, (size_t)(q - s));
	if (idx < 0) {
		b = err_at(c, line);
		pn_buf_puts(b, "unknown parameter ");
		quote(b, s, (size_t)(q - s));
		for (i = 0; i < c->cfg->n; i++) {
			const char *name = c->cfg->table[i].name;
			d = distance(s, (size_t)(q - s), name, strlen(name));
			if (d < best && d < (size_t)(q - s)) {
				best = d;
				idx = (long)i;
			}
		}
		if (idx >= 0)
			pn_buf_printf(b, " (did you mean \"%s\"?)", c->cfg->table[idx].name);
		return -1;
	}
	e = &c->cfg->e[idx];
	pn_free(e->raw);
	e->raw = pn_strndup(v, (size_t)(end - v));
	e->line = line;
	e->set = 1;
	return 0;
}

/* read_lines - split text into logical lines and define each */
static int read_lines(ctx *c, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl, *le, *s;
	size_t lineno = 0, lstart = 0;
	pn_buf logical;
	int rc = -1;

	pn_buf_init(&logical, PN_CONFIG_LINE_MAX);
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	for (; p < end; p = nl ? nl + 1 : end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		le = nl ? nl : end;
		if (memchr(p, '\0', (size_t)(le - p))) {
			pn_buf_puts(err_at(c, lineno), "line contains a NUL byte");
			goto out;
		}
		if (le - p > PN_CONFIG_LINE_MAX) {
			pn_buf_puts(err_at(c, lineno), "line too long (more than 65536 bytes)");
			goto out;
		}
		while (le > p && is_space((unsigned char)le[-1]))
			le--;
		for (s = p; s < le && is_space((unsigned char)*s); s++)
			;
		if (s == le || *s == '#')
			continue;	/* does not end a logical line, as in Postfix */
		if (s > p) {
			if (lstart == 0) {
				pn_buf_puts(err_at(c, lineno),
					    "line starts with white space, but there is no line before it to continue");
				goto out;
			}
			if (pn_buf_putc(&logical, ' ') < 0 ||
			    pn_buf_append(&logical, s, (size_t)(le - s)) < 0) {
				pn_buf_puts(err_at(c, lstart), "line too long (more than 65536 bytes)");
				goto out;
			}
			continue;
		}
		if (lstart && define(c, pn_buf_str(&logical), pn_buf_len(&logical), lstart) < 0)
			goto out;
		pn_buf_reset(&logical);
		pn_buf_append(&logical, s, (size_t)(le - s));
		lstart = lineno;
	}
	if (lstart && define(c, pn_buf_str(&logical), pn_buf_len(&logical), lstart) < 0)
		goto out;
	rc = 0;
out:
	pn_buf_free(&logical);
	return rc;
}

/* by_position - file definitions in line order, then defaults */
static int by_position(const void *a, const void *b)
{
	const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;

	if (x->set != y->set)
		return x->set ? -1 : 1;
	if (x->set && x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

/* build - parse text and resolve every value; NULL and *err on error */
static pn_config *build(const char *text, size_t len, const char *msgname,
			const char *path, const pn_param *table, char **err)
{
	pn_config *cfg = pn_calloc(1, sizeof(*cfg));
	entry **order;
	ctx c;
	size_t i;

	cfg->table = table;
	cfg->n = check_table(table);
	cfg->e = pn_calloc(cfg->n, sizeof(entry));
	cfg->path = path ? pn_strdup(path) : NULL;
	for (i = 0; i < cfg->n; i++) {
		cfg->e[i].p = &table[i];
		cfg->e[i].raw = pn_strdup(table[i].default_value ? table[i].default_value : "");
	}
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.file = msgname;
	pn_buf_init(&c.err, 0);
	if (read_lines(&c, text, len) == 0) {
		order = pn_calloc(cfg->n, sizeof(*order));
		for (i = 0; i < cfg->n; i++)
			order[i] = &cfg->e[i];
		qsort(order, cfg->n, sizeof(*order), by_position);
		for (i = 0; i < cfg->n; i++)
			if (resolve(&c, (size_t)(order[i] - cfg->e), 0) < 0)
				break;
		pn_free(order);
	}
	if (c.failed) {
		if (err)
			*err = pn_buf_steal(&c.err, NULL);
		pn_buf_free(&c.err);
		pn_config_free(cfg);
		return NULL;
	}
	pn_buf_free(&c.err);
	return cfg;
}

/* pn_config_parse_mem - configuration from len bytes of text */
pn_config *pn_config_parse_mem(const char *text, size_t len, const char *filename,
			       const pn_param *table, char **err)
{
	if (err)
		*err = NULL;
	return build(text ? text : "", text ? len : 0,
		     filename ? filename : "(string)", filename, table, err);
}

/* pn_config_parse - configuration from a C string */
pn_config *pn_config_parse(const char *text, const char *filename,
			   const pn_param *table, char **err)
{
	return pn_config_parse_mem(text, text ? strlen(text) : 0, filename, table, err);
}

/* pn_config_load - configuration from a file */
pn_config *pn_config_load(const char *path, const pn_param *table, char **err)
{
	pn_config *cfg;
	char *data;
	size_t len;
	int fd;

	if (err)
		*err = NULL;
	if (path == NULL)
		pn_panic("pn_config_load: NULL path");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (err)
			*err = pn_asprintf("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	data = pn_read_fd(fd, FILE_MAX, &len);
	if (data == NULL && err) {
		if (errno == EFBIG)
			*err = pn_asprintf("%s: file too large (more than %zu bytes)", path,
					   (size_t)FILE_MAX);
		else
			*err = pn_asprintf("%s: cannot read: %s", path, strerror(errno));
	}
	close(fd);
	if (data == NULL)
		return NULL;
	cfg = build(data, len, path, path, table, err);
	pn_free(data);
	return cfg;
}

/* pn_config_defaults - the configuration when no file changes anything */
pn_config *pn_config_defaults(const pn_param *table)
{
	char *err = NULL;
	pn_config *cfg = build("", 0, "(defaults)", NULL, table, &err);

	if (cfg == NULL)
		pn_panic("pn_config_defaults: invalid parameter table: %s", err);
	return cfg;
}

/* lookup - the entry a getter asks for, or a panic naming the misuse */
static const entry *lookup(const pn_config *cfg, const char *name,
			   const char *getter, unsigned types)
{
	long idx;
	const entry *e;

	if (cfg == NULL || name == NULL)
		pn_panic("%s: NULL %s", getter, cfg ? "name" : "configuration");
	idx = find(cfg, name, strlen(name));
	if (idx < 0)
		pn_panic("%s: unknown parameter \"%s\"", getter, name);
	e = &cfg->e[idx];
	if (!(types & (1u << e->p->type)))
		pn_panic("%s: parameter \"%s\" is of type %s", getter, name,
			 type_name(e->p->type));
	return e;
}

/* pn_config_str - value of a STR or ENUM parameter */
const char *pn_config_str(const pn_config *cfg, const char *name)
{
	return lookup(cfg, name, "pn_config_str",
		      1u << PN_PARAM_STR | 1u << PN_PARAM_ENUM)->value;
}

/* pn_config_int - value of an INT, SIZE (bytes) or TIME (seconds) parameter */
long long pn_config_int(const pn_config *cfg, const char *name)
{
	return lookup(cfg, name, "pn_config_int",
		      1u << PN_PARAM_INT | 1u << PN_PARAM_SIZE | 1u << PN_PARAM_TIME)->num;
}

/* pn_config_bool - value of a BOOL parameter as 1 or 0 */
int pn_config_bool(const pn_config *cfg, const char *name)
{
	return (int)lookup(cfg, name, "pn_config_bool", 1u << PN_PARAM_BOOL)->num;
}

/* pn_config_is_set - did the file define this parameter? */
int pn_config_is_set(const pn_config *cfg, const char *name)
{
	return lookup(cfg, name, "pn_config_is_set", ~0u)->set;
}

/* pn_config_line - the line that set the parameter, 0 for a default */
size_t pn_config_line(const pn_config *cfg, const char *name)
{
	const entry *e = lookup(cfg, name, "pn_config_line", ~0u);

	return e->set ? e->line : 0;
}

/* pn_config_path - file the configuration came from, or NULL */
const char *pn_config_path(const pn_config *cfg)
{
	return cfg->path;
}

/* by_name - postconf order */
static int by_name(const void *a, const void *b)
{
	return strcmp((*(const entry *const *)a)->p->name,
		      (*(const entry *const *)b)->p->name);
}

/* pn_config_dump - print parameters the way postconf does */
void pn_config_dump(const pn_config *cfg, FILE *out, int only_changed)
{
	const entry **order = pn_calloc(cfg->n, sizeof(*order));
	size_t i;

	for (i = 0; i < cfg->n; i++)
		order[i] = &cfg->e[i];
	qsort(order, cfg->n, sizeof(*order), by_name);
	for (i = 0; i < cfg->n; i++) {
		const entry *e = order[i];
		if (only_changed && !e->set)
			continue;
		if (!only_changed && e->p->help && *e->p->help)
			fprintf(out, "# %s\n", e->p->help);
		fprintf(out, *e->raw ? "%s = %s\n" : "%s =%s\n", e->p->name, e->raw);
	}
	pn_free(order);
}

/* pn_config_free - release a configuration; NULL is fine */
void pn_config_free(pn_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n; i++) {
		pn_free(cfg->e[i].raw);
		pn_free(cfg->e[i].value);
	}
	pn_free(cfg->e);
	pn_free(cfg->path);
	pn_free(cfg);
}
