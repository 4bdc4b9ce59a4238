/* SPDX-License-Identifier: BSD-2-Clause */
/* query - search criteria from command-line text (see query.h) */
#include "milters/archive/query.h"
#include "milters/archive/record.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* arc_query_init - a query that matches everything */
void arc_query_init(arc_query *q)
{
	memset(q, 0, sizeof(*q));
	q->since = q->until = q->larger = -1;
}

/* arc_query_clear - free and reset */
void arc_query_clear(arc_query *q)
{
	size_t i;

	pn_free(q->from);
	pn_free(q->to);
	pn_free(q->subject);
	pn_free(q->text);
	pn_free(q->message_id);
	pn_free(q->attachment);
	for (i = 0; i < q->nkeys; i++)
		pn_free(q->keys[i]);
	pn_free(q->keys);
	arc_query_init(q);
}

/* digits - parse exactly n decimal digits */
static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* arc_parse_time - absolute UTC time, @epoch or an age like 7d */
int arc_parse_time(const char *s, long long *out)
{
	struct tm tm;
	char *end;
	int y, mo, d, h = 0, mi = 0, se = 0;
	size_t n = strlen(s);

	if (s[0] == '@') {
		long long v;
		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (errno || end == s + 1 || *end || v < 0)
			return -1;
		*out = v;
		return 0;
	}
	if (n >= 2 && n <= 12 && strspn(s, "0123456789") == n - 1) {
		long long v = strtoll(s, NULL, 10), unit;
		switch (s[n - 1]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		case 'y': unit = 365 * 86400; break;
		default: return -1;
		}
		*out = (long long)time(NULL) - v * unit;
		return 0;
	}
	if (n < 10 || digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0
	    || s[7] != '-' || digits(s + 8, 2, &d) < 0)
		return -1;
	if (n > 10) {
		if ((s[10] != 'T' && s[10] != ' ') || n < 16 || digits(s + 11, 2, &h) < 0
		    || s[13] != ':' || digits(s + 14, 2, &mi) < 0)
			return -1;
		end = (char *)s + 16;
		if (*end == ':') {
			if (digits(end + 1, 2, &se) < 0)
				return -1;
			end += 3;
		}
		if (*end == 'Z')
			end++;
		if (*end)
			return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = (long long)timegm(&tm);
	return 0;
}

/* arc_parse_size - bytes with an optional k/m/g suffix */
int arc_parse_size(const char *s, long long *out)
{
	char *end;
	long long v, mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'k': mult = 1024; end++; break;
	case 'm': mult = 1024 * 1024; end++; break;
	case 'g': mult = 1024LL * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end || v > (1LL << 50))
		return -1;
	*out = v * mult;
	return 0;
}

/* replace - set a string criterion */
static void replace(char **field, const char *value)
{
	pn_free(*field);
	*field = pn_strdup(value);
}

/* arc_query_set - one criterion from its option name and text */
int arc_query_set(arc_query *q, const char *option, const char *value, char **err)
{
	long long v;

	if (strcmp(option, "from") == 0)
		replace(&q->from, value);
	else if (strcmp(option, "to") == 0)
		replace(&q->to, value);
	else if (strcmp(option, "subject") == 0)
		replace(&q->subject, value);
	else if (strcmp(option, "text") == 0)
		replace(&q->text, value);
	else if (strcmp(option, "attachment") == 0)
		replace(&q->attachment, value);
	else if (strcmp(option, "message-id") == 0) {
		pn_free(q->message_id);
		q->message_id = arc_message_id_normal(value);
	} else if (strcmp(option, "since") == 0 || strcmp(option, "until") == 0) {
		if (arc_parse_time(value, &v) < 0) {
			*err = pn_asprintf("--%s %s: not a time (YYYY-MM-DD[THH:MM[:SS]], @SECONDS "
					   "or an age such as 7d)", option, value);
			return -1;
		}
		if (option[0] == 's')
			q->since = v;
		else
			q->until = v;
	} else if (strcmp(option, "larger") == 0) {
		if (arc_parse_size(value, &v) < 0) {
			*err = pn_asprintf("--larger %s: not a size (bytes, k, m or g)", value);
			return -1;
		}
		q->larger = v;
	} else {
		*err = pn_asprintf("unknown criterion --%s", option);
		return -1;
	}
	return 0;
}

/* arc_query_add_key - one more id, SHA-256 or Message-ID */
void arc_query_add_key(arc_query *q, const char *key)
{
	q->keys = pn_realloc(q->keys, (q->nkeys + 1) * sizeof(char *));
	q->keys[q->nkeys++] = pn_strdup(key);
}

/* arc_query_is_empty - no criterion at all (matches everything) */
int arc_query_is_empty(const arc_query *q)
{
	return !q->from && !q->to && !q->subject && !q->text && !q->message_id && !q->attachment
	       && q->since < 0 && q->until < 0 && q->larger < 0 && q->nkeys == 0 && !q->held_only;
}

/* arc_key_classify - what a positional key names */
arc_key_kind arc_key_classify(const char *key)
{
	size_t n = strlen(key);

	if (arc_is_id(key))
		return ARC_KEY_ID;
	if (n >= 8 && n <= 64 && strspn(key, "0123456789abcdef") == n)
		return n == 64 ? ARC_KEY_SHA256 : ARC_KEY_SHA_PREFIX;
	if (strchr(key, '@') || key[0] == '<')
		return ARC_KEY_MESSAGE_ID;
	return ARC_KEY_BAD;
}

/* arc_message_id_normal - "<x@y>" from "<x@y>", "x@y" or with spaces around */
char *arc_message_id_normal(const char *s)
{
	char *id = pn_trim(pn_strdup(s)), *bracketed;
	size_t n = strlen(id);

	if (n >= 2 && id[0] == '<' && id[n - 1] == '>')
		return id;
	bracketed = pn_asprintf("<%s>", id);
	pn_free(id);
	return bracketed;
}

/* arc_fts_phrase - every word quoted, implicitly ANDed */
char *arc_fts_phrase(const char *words)
{
	pn_buf b;
	const char *p = words;

	pn_buf_init(&b, 0);
	while (*p) {
		const char *start;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (pn_buf_len(&b))
			pn_buf_putc(&b, ' ');
		pn_buf_putc(&b, '"');
		for (; start < p; start++) {
			if (*start == '"')
				pn_buf_putc(&b, '"');
			pn_buf_putc(&b, *start);
		}
		pn_buf_putc(&b, '"');
	}
	return pn_buf_steal(&b, NULL);
}

/* arc_like_pattern - "%text%" with LIKE's wildcards escaped by '\' */
char *arc_like_pattern(const char *s)
{
	pn_buf b;

	pn_buf_init(&b, 0);
	pn_buf_putc(&b, '%');
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			pn_buf_putc(&b, '\\');
		pn_buf_putc(&b, *s);
	}
	pn_buf_putc(&b, '%');
	return pn_buf_steal(&b, NULL);
}

/* arc_join_lines - strings joined by newlines */
char *arc_join_lines(char **v, size_t n)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		if (i)
			pn_buf_putc(&b, '\n');
		pn_buf_puts(&b, v[i]);
	}
	return pn_buf_steal(&b, NULL);
}
