/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_spamtest - spamtest, spamtestplus and virustest (RFC 5235): scores from an earlier filter's headers
 *
 *	spamtest [:percent] [COMPARATOR] [MATCH-TYPE] VALUE
 *	virustest [COMPARATOR] [MATCH-TYPE] VALUE
 *
 * The score is read the way Pigeonhole reads it (sieve_spamtest_* and
 * sieve_virustest_* settings, here sv_spamparams): the first field named
 * status_header (after editheader changes), its value or the first group
 * of its regular expression, read as a decimal number (score), as the
 * length of a run of one character such as "*****" (strlen), or looked
 * up among the text values (text). The ratio to the maximum (max_value,
 * or a number read from max_header the same way; 10 for spamtest's and
 * 5 for virustest's text values) gives spamtest 1..10 (ratio * 9 + 1),
 * spamtest :percent 0..100 and virustest 1..5 (ratio * 4 + 1), rounded
 * down; a negative score counts as 0, one over the maximum as the
 * maximum. The result is "0" (RFC 5235: not tested) when the test is not
 * configured, the field is missing, or its value does not parse.
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_SCORE, ST_STRLEN, ST_TEXT };
#define MAX_TEXT 10

typedef struct header_spec {
	char *name;		/* NULL: none */
	regex_t re;
	int has_re;
} header_spec;

typedef struct test_conf {
	int configured;
	int type;
	header_spec status, max;
	float max_value;
	char *text[MAX_TEXT + 1];	/* NULL: no text for that level */
} test_conf;

struct sv_spamconf {
	test_conf spam, virus;
};

/* parse_decimal - a decimal number ([+-]digits[.digits]), the whole string */
static int parse_decimal(const char *s, float *out)
{
	const char *p = s;
	int digits = 0;
	char *end;

	if (*p == '+' || *p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits == 0 || *p != '\0')
		return -1;
	*out = strtof(s, &end);
	return 0;
}

/* parse_strlen - the length of a run of one character ("*****" is 5) */
static int parse_strlen(const char *s, float *out)
{
	size_t n = 0;

	while (s[n] != '\0' && s[n] == s[0])
		n++;
	if (s[n] != '\0')
		return -1;
	*out = (float)n;
	return 0;
}

/* header_spec_parse - "Name" or "Name: regex" */
static int header_spec_parse(header_spec *h, const char *setting, const char *spec, char **err)
{
	const char *colon = strchr(spec, ':'), *re;
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	int rc;

	while (len > 0 && (spec[len - 1] == ' ' || spec[len - 1] == '\t'))
		len--;
	if (!sv_header_name_valid(spec, len)) {
		*err = pn_asprintf("%s = \"%s\": not a header name", setting, spec);
		return -1;
	}
	h->name = pn_strndup(spec, len);
	if (colon == NULL)
		return 0;
	for (re = colon + 1; *re == ' ' || *re == '\t'; re++)
		;
	if ((rc = regcomp(&h->re, re, REG_EXTENDED)) != 0) {
		char buf[256];
		regerror(rc, &h->re, buf, sizeof(buf));
		*err = pn_asprintf("%s = \"%s\": bad regular expression: %s", setting, spec, buf);
		return -1;
	}
	h->has_re = 1;
	if (h->re.re_nsub < 1) {
		*err = pn_asprintf("%s = \"%s\": the regular expression needs a group, "
				   "( ), around the value", setting, spec);
		return -1;
	}
	return 0;
}

/* text_values_parse - "N=TEXT, N=TEXT" */
static int text_values_parse(test_conf *t, const char *setting, const char *list, int max,
			     char **err)
{
	const char *p = list;

	while (*p) {
		const char *item, *end, *comma;
		char *num_end;
		long n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		item = p;
		n = strtol(p, &num_end, 10);
		if (num_end == p || *num_end != '=' || n < 0 || n > max) {
			*err = pn_asprintf("%s: \"%s\": expected N=TEXT with N from 0 to %d", setting,
					   item, max);
			return -1;
		}
		p = num_end + 1;
		comma = strchr(p, ',');
		end = comma ? comma : p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		pn_free(t->text[n]);
		t->text[n] = pn_strndup(p, (size_t)(end - p));
		p = comma ? comma + 1 : p + strlen(p);
	}
	return 0;
}

/* test_conf_load - one test's settings; prefix names them in errors */
static int test_conf_load(test_conf *t, const char *prefix, const sv_spamparams *sp, int max_text,
			  char **err)
{
	char setting[64];

	if (sp == NULL || sp->status_header == NULL || *sp->status_header == '\0')
		return 0;
	snprintf(setting, sizeof(setting), "%s_status_header", prefix);
	if (header_spec_parse(&t->status, setting, sp->status_header, err) < 0)
		return -1;
	if (sp->status_type == NULL || *sp->status_type == '\0' || strcmp(sp->status_type, "score") == 0)
		t->type = ST_SCORE;
	else if (strcmp(sp->status_type, "strlen") == 0)
		t->type = ST_STRLEN;
	else if (strcmp(sp->status_type, "text") == 0)
		t->type = ST_TEXT;
	else {
		*err = pn_asprintf("%s_status_type = \"%s\": expected score, strlen or text", prefix,
				   sp->status_type);
		return -1;
	}
	if (t->type == ST_TEXT) {
		snprintf(setting, sizeof(setting), "%s_text_values", prefix);
		if (text_values_parse(t, setting, sp->text_values ? sp->text_values : "", max_text,
				      err) < 0)
			return -1;
	} else if (sp->max_header && *sp->max_header) {
		snprintf(setting, sizeof(setting), "%s_max_header", prefix);
		if (header_spec_parse(&t->max, setting, sp->max_header, err) < 0)
			return -1;
	} else if (sp->max_value == NULL || parse_decimal(sp->max_value, &t->max_value) < 0
		   || t->max_value <= 0) {
		*err = pn_asprintf("%s_max_value = \"%s\": a positive number is needed (or %s_max_header)",
				   prefix, sp->max_value ? sp->max_value : "", prefix);
		return -1;
	}
	t->configured = 1;
	return 0;
}

/* test_conf_free - what one test's settings hold */
static void test_conf_free(test_conf *t)
{
	int i;

	pn_free(t->status.name);
	if (t->status.has_re)
		regfree(&t->status.re);
	pn_free(t->max.name);
	if (t->max.has_re)
		regfree(&t->max.re);
	for (i = 0; i <= MAX_TEXT; i++)
		pn_free(t->text[i]);
}

/* sv_spamconf_new - the spamtest and virustest settings, checked */
struct sv_spamconf *sv_spamconf_new(const sv_spamparams *spam, const sv_spamparams *virus,
				    char **err)
{
	struct sv_spamconf *c = pn_calloc(1, sizeof(*c));

	*err = NULL;
	if (test_conf_load(&c->spam, "spamtest", spam, 10, err) < 0
	    || test_conf_load(&c->virus, "virustest", virus, 5, err) < 0) {
		sv_spamconf_free(c);
		return NULL;
	}
	return c;
}

/* sv_spamconf_free - release the settings */
void sv_spamconf_free(struct sv_spamconf *c)
{
	if (c == NULL)
		return;
	test_conf_free(&c->spam);
	test_conf_free(&c->virus);
	pn_free(c);
}

/* sv_spamtest_tag - :percent (spamtestplus) */
int sv_spamtest_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i];

	if (strcmp(a->tag, "percent") != 0)
		return 0;
	if (sv_need_cap(P, a->line, a->col, SV_CAP_SPAMTESTPLUS, "tag \":percent\"") < 0)
		return -1;
	if (n->over)
		return sv_perr(P, a->line, a->col, "tag \":percent\" given twice");
	n->over = 1;	/* spamtest has no :over: the field holds :percent */
	return 1;
}

/* sv_spamtest_check - nothing beyond the table's checks */
int sv_spamtest_check(sv_parser *P, sv_node *n)
{
	(void)P;
	(void)n;
	return 0;
}

/* field_text - the value of a field as a spec reads it; -1: missing or no match */
static int field_text(sv_ctx *c, const header_spec *h, char **out)
{
	sv_vals v;
	regmatch_t m[2];
	char *val;

	memset(&v, 0, sizeof(v));
	*out = NULL;
	if (sv_header_values(c, h->name, &v) < 0) {
		sv_vals_free(&v);
		return -2;
	}
	if (v.n == 0) {
		sv_vals_free(&v);
		return -1;
	}
	val = pn_memdup0(v.v[0], v.len[0]);
	sv_vals_free(&v);
	if (h->has_re) {
		if (regexec(&h->re, val, 2, m, 0) != 0 || m[1].rm_so < 0) {
			pn_free(val);
			return -1;
		}
		*out = pn_strndup(val + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
		pn_free(val);
		return 0;
	}
	*out = val;
	return 0;
}

/* score_ratio - the message's score over the maximum, 0..1; -1 not tested; -2 budget */
static float score_ratio(sv_ctx *c, const test_conf *t, int virus)
{
	float max = t->max_value, status = 0;
	char *text = NULL;
	int rc, i;

	if (!t->configured)
		return -1;
	if (t->type == ST_TEXT)
		max = virus ? 5 : 10;
	else if (t->max.name) {
		if ((rc = field_text(c, &t->max, &text)) < 0)
			return (float)rc;
		rc = parse_decimal(text, &max);
		pn_free(text);
		if (rc < 0 || max == 0)
			return -1;
	}
	if ((rc = field_text(c, &t->status, &text)) < 0)
		return (float)rc;
	if (t->type == ST_SCORE)
		rc = parse_decimal(text, &status);
	else if (t->type == ST_STRLEN)
		rc = parse_strlen(text, &status);
	else {
		rc = -1;
		for (i = 0; i <= (virus ? 5 : MAX_TEXT); i++) {
			if (t->text[i] && strcmp(text, t->text[i]) == 0) {
				status = (float)i;
				rc = 0;
				break;
			}
		}
	}
	pn_free(text);
	if (rc < 0)
		return -1;
	if (status < 0)
		return 0;
	return status > max ? 1 : status / max;
}

/* sv_spamtest_run - compare the score with the keys */
int sv_spamtest_run(sv_ctx *c, const sv_node *n)
{
	const struct sv_spamconf *conf = c->env->svc ? c->env->svc->spam : NULL;
	int virus = n->op == SV_OP_VIRUSTEST, score, rc;
	float ratio = -1;
	char value[8];
	sv_vals v;

	if (conf)
		ratio = score_ratio(c, virus ? &conf->virus : &conf->spam, virus);
	if (ratio == -2)
		return -1;
	if (ratio < 0)
		score = 0;
	else if (n->over)
		score = (int)(ratio * 100 + 0.001f);
	else if (virus)
		score = (int)(ratio * 4 + 1.001f);
	else
		score = (int)(ratio * 9 + 1.001f);
	snprintf(value, sizeof(value), "%d", score);
	memset(&v, 0, sizeof(v));
	sv_vals_add(&v, value, strlen(value));
	rc = sv_match_values(c, n, &v, n->pos[0]);
	sv_vals_free(&v);
	return rc;
}
