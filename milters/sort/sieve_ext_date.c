/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_ext_date - date and index (RFC 5260): the date and currentdate
 * tests, :index and :last on header, address and date
 *
 * date reads a header field (the first one, or the one :index names),
 * takes the text after its last ";" when there is one (a Received field)
 * and parses it as an RFC 5322 date-time (obsolete forms too: two-digit
 * years, named zones, comments). currentdate reads the run's clock,
 * sv_env.now (0: time(NULL)), so tests inject it. Either is shown in the
 * zone :zone gives, in the zone the field was written in (:originalzone),
 * or in the local zone of the host; the date part asked for becomes the
 * one value the match compares. A field that is missing or holds no date
 * makes the test false.
 *
 * :index N counts the fields of each header name from 1 (from the end with
 * :last) and keeps only that field; the address test then takes every
 * address of that field (sieve_run.c collects, sv_index_tag parses).
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { ZONE_LOCAL, ZONE_ORIGINAL, ZONE_GIVEN };

/* what validation learned about one date or currentdate test */
typedef struct date_ext {
	int zone_kind;			/* ZONE_* */
	const sv_string *zone;		/* ZONE_GIVEN: the :zone argument */
	int zone_tag_seen;
} date_ext;

static const char *const date_parts[] = {
	"year", "month", "day", "date", "julian", "hour", "minute", "second", "time",
	"iso8601", "std11", "zone", "weekday", NULL
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"
};

/* ---- calendar ----------------------------------------------------------- */

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
static long long days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* broken-down time in a given zone */
typedef struct civil {
	long long year;
	int month, day, hour, minute, second, weekday;
	long long mjd;			/* Modified Julian Day */
	int zone;			/* minutes east of UTC */
} civil;

/* civil_of - t (seconds since the epoch, UTC) seen in zone (minutes) */
static void civil_of(long long t, int zone, civil *c)
{
	long long s = t + (long long)zone * 60, days, sod, era, doe, yoe, doy, mp;

	days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	sod = s - days * 86400;
	c->hour = (int)(sod / 3600);
	c->minute = (int)(sod / 60 % 60);
	c->second = (int)(sod % 60);
	c->weekday = (int)(((days % 7) + 11) % 7);	/* 1970-01-01 was a Thursday */
	c->mjd = days + 40587;
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = yoe + era * 400 + (c->month <= 2);
	c->zone = zone;
}

/* local_zone - the host's offset from UTC at t, in minutes */
static int local_zone(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* ---- RFC 5322 date-time ------------------------------------------------- */

/* skip_cfws - white space and (nested) comments */
static const char *skip_cfws(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (*p == '\\' && depth > 0 && p + 1 < end) {
			p++;
		} else if (depth == 0 && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			break;
		}
		p++;
	}
	return p;
}

/* number - 1..max digits at *pp; -1 when none */
static long number(const char **pp, const char *end, int max, int *ndigits)
{
	const char *p = *pp;
	long v = 0;
	int n = 0;

	while (p < end && n < max && *p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n == 0)
		return -1;
	*pp = p;
	if (ndigits)
		*ndigits = n;
	return v;
}

/* word - letters at *pp, copied in lower case into w (cut at wsize - 1) */
static size_t word(const char **pp, const char *end, char *w, size_t wsize)
{
	size_t n = 0;
	const char *p = *pp;

	while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
		if (n + 1 < wsize)
			w[n++] = (char)(*p | 0x20);
		p++;
	}
	w[n] = '\0';
	*pp = p;
	return n;
}

/* obs_zone - RFC 5322 4.3 named zones, minutes east; military and unknown
 * names are "-0000" (no information): 0 */
static int obs_zone(const char *w, int *zone)
{
	static const struct { const char *name; int min; } z[] = {
		{"ut", 0}, {"gmt", 0}, {"utc", 0}, {"z", 0}, {"est", -300}, {"edt", -240},
		{"cst", -360}, {"cdt", -300}, {"mst", -420}, {"mdt", -360}, {"pst", -480},
		{"pdt", -420}, {NULL, 0}
	};
	int k;

	for (k = 0; z[k].name; k++)
		if (strcmp(z[k].name, w) == 0) {
			*zone = z[k].min;
			return 0;
		}
	if (strlen(w) == 1 && w[0] != 'j') {
		*zone = 0;
		return 0;
	}
	return -1;
}

/*
 * parse_date - [day-of-week ","] day month year hour ":" minute [":" second]
 * zone, with CFWS between tokens; t gets seconds since the epoch (UTC),
 * *zone the field's own offset in minutes. 0, or -1 when it is no date.
 */
static int parse_date(const char *s, size_t len, long long *t, int *zone)
{
	const char *p = s, *end = s + len;
	char w[16];
	long day, year, hour, minute, second = 0, off;
	int month, digits, sign;

	p = skip_cfws(p, end);
	if (p < end && ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')) {
		word(&p, end, w, sizeof(w));
		p = skip_cfws(p, end);
		if (p >= end || *p != ',')
			return -1;
		p = skip_cfws(p + 1, end);
	}
	if ((day = number(&p, end, 2, NULL)) < 1 || day > 31)
		return -1;
	p = skip_cfws(p, end);
	if (word(&p, end, w, sizeof(w)) != 3)
		return -1;
	for (month = 0; month < 12; month++)
		if (strcmp(w, month_names[month]) == 0)
			break;
	if (month == 12)
		return -1;
	p = skip_cfws(p, end);
	if ((year = number(&p, end, 4, &digits)) < 0)
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;	/* RFC 5322 4.3 */
	else if (digits == 3)
		year += 1900;
	p = skip_cfws(p, end);
	if ((hour = number(&p, end, 2, NULL)) < 0 || hour > 23)
		return -1;
	p = skip_cfws(p, end);
	if (p >= end || *p != ':')
		return -1;
	p = skip_cfws(p + 1, end);
	if ((minute = number(&p, end, 2, NULL)) < 0 || minute > 59)
		return -1;
	p = skip_cfws(p, end);
	if (p < end && *p == ':') {
		p = skip_cfws(p + 1, end);
		if ((second = number(&p, end, 2, NULL)) < 0 || second > 60)
			return -1;
		p = skip_cfws(p, end);
	}
	if (p < end && (*p == '+' || *p == '-')) {
		sign = *p == '-' ? -1 : 1;
		p++;
		if ((off = number(&p, end, 4, &digits)) < 0 || digits != 4 || off % 100 > 59)
			return -1;
		*zone = sign * (int)(off / 100 * 60 + off % 100);
	} else if (word(&p, end, w, sizeof(w)) == 0 || obs_zone(w, zone) < 0) {
		return -1;
	}
	*t = days_from_civil(year, month + 1, (int)day) * 86400 + hour * 3600 + minute * 60
	     + second - (long long)*zone * 60;
	return 0;
}

/* sv_date_parse_zone - "+hhmm" or "-hhmm" to minutes east; 0 or -1 */
static int parse_zone(const char *s, size_t len, int *zone)
{
	size_t i;
	int v;

	if (len != 5 || (s[0] != '+' && s[0] != '-'))
		return -1;
	for (i = 1; i < 5; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	if (s[3] > '5')
		return -1;
	v = ((s[1] - '0') * 10 + (s[2] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
	if (v > 24 * 60)
		return -1;
	*zone = s[0] == '-' ? -v : v;
	return 0;
}

/* ---- date parts --------------------------------------------------------- */

/* part_known - a date part name (any case) */
static int part_known(const char *name)
{
	int k;

	for (k = 0; date_parts[k]; k++)
		if (strcasecmp(date_parts[k], name) == 0)
			return 1;
	return 0;
}

/* format_zone - "+hhmm" / "-hhmm"; zero is "+0000" */
static void format_zone(int zone, char *out, size_t size)
{
	int a = zone < 0 ? -zone : zone;

	snprintf(out, size, "%c%02d%02d", zone < 0 ? '-' : '+', a / 60, a % 60);
}

/* date_part - the named part of c as the string RFC 5260 section 4.2 gives */
static int date_part(const civil *c, const char *name, char *out, size_t size)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					 "Aug", "Sep", "Oct", "Nov", "Dec"};
	char z[24];

	format_zone(c->zone, z, sizeof(z));
	if (strcasecmp(name, "year") == 0)
		snprintf(out, size, "%04lld", c->year);
	else if (strcasecmp(name, "month") == 0)
		snprintf(out, size, "%02d", c->month);
	else if (strcasecmp(name, "day") == 0)
		snprintf(out, size, "%02d", c->day);
	else if (strcasecmp(name, "date") == 0)
		snprintf(out, size, "%04lld-%02d-%02d", c->year, c->month, c->day);
	else if (strcasecmp(name, "julian") == 0)
		snprintf(out, size, "%lld", c->mjd);
	else if (strcasecmp(name, "hour") == 0)
		snprintf(out, size, "%02d", c->hour);
	else if (strcasecmp(name, "minute") == 0)
		snprintf(out, size, "%02d", c->minute);
	else if (strcasecmp(name, "second") == 0)
		snprintf(out, size, "%02d", c->second);
	else if (strcasecmp(name, "time") == 0)
		snprintf(out, size, "%02d:%02d:%02d", c->hour, c->minute, c->second);
	else if (strcasecmp(name, "iso8601") == 0) {
		/* RFC 3339 5.6: a zero offset is "Z" */
		char off[24] = "Z";
		if (c->zone)
			snprintf(off, sizeof(off), "%c%02d:%02d", c->zone < 0 ? '-' : '+',
				 (c->zone < 0 ? -c->zone : c->zone) / 60,
				 (c->zone < 0 ? -c->zone : c->zone) % 60);
		snprintf(out, size, "%04lld-%02d-%02dT%02d:%02d:%02d%s", c->year, c->month, c->day,
			 c->hour, c->minute, c->second, off);
	} else if (strcasecmp(name, "std11") == 0)
		snprintf(out, size, "%s, %02d %s %04lld %02d:%02d:%02d %s", wd[c->weekday], c->day,
			 mn[c->month - 1], c->year, c->hour, c->minute, c->second, z);
	else if (strcasecmp(name, "zone") == 0)
		snprintf(out, size, "%s", z);
	else if (strcasecmp(name, "weekday") == 0)
		snprintf(out, size, "%d", c->weekday);
	else
		return -1;
	return 0;
}

/* ---- validation --------------------------------------------------------- */

/* ext_of - the node's date_ext, made on first use */
static date_ext *ext_of(sv_node *n)
{
	if (n->ext == NULL) {
		n->ext = pn_calloc(1, sizeof(date_ext));
		n->ext_free = pn_free;
	}
	return n->ext;
}

/* sv_date_tag - :zone <string> and :originalzone (date only) */
int sv_date_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;
	date_ext *d;
	sv_string *s;

	if (strcmp(a->tag, "zone") != 0 && !(strcmp(a->tag, "originalzone") == 0
					      && n->op == SV_OP_DATE))
		return 0;
	d = ext_of(n);
	if (d->zone_tag_seen++)
		return sv_perr(P, a->line, a->col, "\"%s\" takes only one of :zone and "
			       ":originalzone", n->name);
	if (a->tag[0] == 'o') {
		d->zone_kind = ZONE_ORIGINAL;
		return 1;
	}
	if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a time zone (\"+hhmm\" or \"-hhmm\")")) == NULL
	    || (s = sv_single_string(P, v, "the :zone argument")) == NULL)
		return -1;
	d->zone_kind = ZONE_GIVEN;
	d->zone = s;
	return 1;
}

/* sv_date_check - constant zone, date part and header name are valid */
int sv_date_check(sv_parser *P, sv_node *n)
{
	date_ext *d = ext_of(n);
	const sv_string *part = n->op == SV_OP_DATE ? &n->pos[1]->v[0] : &n->pos[0]->v[0];
	int zone;

	/* RFC 5260 4.1: the zone MUST be "+hhmm" or "-hhmm" (Pigeonhole only warns) */
	if (d->zone_kind == ZONE_GIVEN && !d->zone->has_vars
	    && parse_zone(d->zone->s, d->zone->len, &zone) < 0)
		return sv_perr(P, d->zone->line, d->zone->col, "invalid time zone \"%s\": expected "
			       "\"+hhmm\" or \"-hhmm\"", d->zone->s);
	if (!part->has_vars && !part_known(part->s))
		return sv_perr(P, part->line, part->col, "unknown date part \"%s\": expected year, "
			       "month, day, date, julian, hour, minute, second, time, iso8601, "
			       "std11, zone or weekday", part->s);
	if (n->op == SV_OP_DATE) {
		const sv_string *h = &n->pos[0]->v[0];
		if (!h->has_vars && !sv_header_name_valid(h->s, h->len))
			return sv_perr(P, h->line, h->col, "invalid header name \"%s\"", h->s);
	}
	if (n->index_last && n->index == 0)
		return sv_perr(P, n->line, n->col, "\":last\" needs \":index\"");
	return 0;
}

/* sv_index_tag - :index N and :last on header, address and date */
int sv_index_tag(sv_parser *P, sv_node *n, size_t *i)
{
	sv_arg *a = &n->args[*i], *v;

	if (strcmp(a->tag, "index") == 0) {
		if (sv_need_cap(P, a->line, a->col, SV_CAP_INDEX, "tag \":index\"") < 0)
			return -1;
		if (n->index)
			return sv_perr(P, a->line, a->col, "tag \":index\" given twice");
		if ((v = sv_take_value(P, n, i, SV_ARG_NUMBER, "a number")) == NULL)
			return -1;
		if (v->num == 0 || v->num > 0x7fffffff)
			return sv_perr(P, v->line, v->col, ":index must be between 1 and 2147483647");
		n->index = (unsigned long)v->num;
		return 1;
	}
	if (strcmp(a->tag, "last") == 0) {
		if (sv_need_cap(P, a->line, a->col, SV_CAP_INDEX, "tag \":last\"") < 0)
			return -1;
		if (n->index_last)
			return sv_perr(P, a->line, a->col, "tag \":last\" given twice");
		n->index_last = 1;
		return 1;
	}
	return 0;
}

/* ---- running ------------------------------------------------------------ */

/* run_zone - the zone the date is shown in; -1 on a bad :zone */
static int run_zone(sv_ctx *c, const date_ext *d, int original, time_t at, int *zone)
{
	size_t len;
	const char *z;

	switch (d ? d->zone_kind : ZONE_LOCAL) {
	case ZONE_ORIGINAL:
		*zone = original;
		return 0;
	case ZONE_GIVEN:
		if ((z = sv_expand_z(c, d->zone, &len)) == NULL)
			return -1;
		if (parse_zone(z, len, zone) < 0)
			return sv_rt_error(c, "invalid time zone \"%s\": expected \"+hhmm\" or "
					   "\"-hhmm\"", z);
		return 0;
	default:
		*zone = local_zone(at);
		return 0;
	}
}

/* sv_date_run - date and currentdate */
int sv_date_run(sv_ctx *c, const sv_node *n)
{
	const date_ext *d = n->ext;
	const sv_strlist *keys = sv_node_keys(n);
	const char *part, *name;
	long long t;
	int zone = 0, original = 0, r;
	char out[96];
	size_t len;
	civil cv;
	sv_vals v;

	part = sv_expand_z(c, n->op == SV_OP_DATE ? &n->pos[1]->v[0] : &n->pos[0]->v[0], &len);
	if (part == NULL)
		return -1;
	if (n->op == SV_OP_CURRENTDATE) {
		t = c->env->now ? (long long)c->env->now : (long long)time(NULL);
		original = local_zone((time_t)t);
	} else {
		const char *val, *semi;

		if ((name = sv_expand_z(c, &n->pos[0]->v[0], &len)) == NULL)
			return -1;
		memset(&v, 0, sizeof(v));
		if (sv_header_values_at(c, name, n->index, n->index_last, &v) < 0) {
			sv_vals_free(&v);
			return -1;
		}
		/* the first field (or the one :index chose), as Pigeonhole reads it */
		r = -1;
		if (v.n > 0) {
			val = v.v[0];
			len = v.len[0];
			semi = NULL;
			for (size_t k = 0; k < len; k++)
				if (val[k] == ';')
					semi = val + k;
			if (semi) {
				len -= (size_t)(semi + 1 - val);
				val = semi + 1;
			}
			r = parse_date(val, len, &t, &original);
		}
		sv_vals_free(&v);
		if (r < 0)
			return 0;
	}
	if (run_zone(c, d, original, (time_t)t, &zone) < 0)
		return -1;
	civil_of(t, zone, &cv);
	if (date_part(&cv, part, out, sizeof(out)) < 0)
		return 0;	/* an unknown part computed at run time: no value */
	memset(&v, 0, sizeof(v));
	sv_vals_add(&v, out, strlen(out));
	r = sv_match_values(c, n, &v, keys);
	sv_vals_free(&v);
	return r;
}
