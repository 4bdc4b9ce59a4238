/* SPDX-License-Identifier: BSD-2-Clause */
/* export - filter audit records and write JSON, JSON Lines or CSV (see export.h) */
#include "milters/audit/export.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "milters/audit/siem.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct audit_export {
	const audit_filter *f;
	audit_format fmt;
	FILE *out;
	unsigned long written;
	pn_buf row;
	json_tokener *tok;	/* one per export: creating one per line cost a third of the time */
};

/* CSV columns: header name and where the value comes from. */
static const char *csv_columns[] = {
	"ts", "seq", "event", "host", "queue_id", "duration_ms", "client_ip", "client_port",
	"client_name", "helo", "country", "asn", "as_org", "tls_version", "tls_cipher",
	"tls_verified", "auth_user", "envelope_from", "envelope_rcpt", "header_from",
	"header_to", "subject", "message_id", "size", "sha256", "attachments",
	"attachment_names", "refusal", NULL
};

/* audit_filter_init - a filter that lets everything through */
void audit_filter_init(audit_filter *f)
{
	memset(f, 0, sizeof(*f));
}

/* audit_filter_free - release the values */
void audit_filter_free(audit_filter *f)
{
	size_t k, i;

	for (k = 0; k < AUDIT_F_KINDS; k++) {
		for (i = 0; i < f->count[k]; i++)
			pn_free(f->values[k][i]);
		pn_free(f->values[k]);
	}
	for (i = 0; i < f->nclients; i++)
		pn_cidr_list_free(f->clients[i]);
	pn_free(f->clients);
	memset(f, 0, sizeof(*f));
}

/* digits - n decimal digits at *p, advancing it; -1 if not there */
static int digits(const char **p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

/* audit_time_parse - RFC 3339 (or a shorter form) to epoch milliseconds */
int audit_time_parse(const char *text, long long *ms)
{
	const char *p = text;
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, s = 0, frac = 0, off = 0;

	memset(&tm, 0, sizeof(tm));
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12
	    || *p++ != '-' || (d = digits(&p, 2)) < 1 || d > 31)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' || (mi = digits(&p, 2)) < 0
		    || mi > 59)
			return -1;
		if (*p == ':') {
			p++;
			if ((s = digits(&p, 2)) < 0 || s > 60)
				return -1;
			if (*p == '.') {
				int n = 0, scale = 100;
				for (p++; isdigit((unsigned char)*p) && n < 9; p++, n++) {
					frac += (*p - '0') * scale;
					scale /= 10;
				}
				if (n == 0)
					return -1;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if ((oh = digits(&p, 2)) < 0 || oh > 23 || *p++ != ':'
			    || (om = digits(&p, 2)) < 0 || om > 59)
				return -1;
			off = sign * (oh * 60 + om);
		}
	}
	if (*p != '\0')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*ms = ((long long)timegm(&tm) - (long long)off * 60) * 1000 + frac;
	return 0;
}

/* push - append a value to one kind's list */
static void push(audit_filter *f, audit_filter_kind kind, const char *value)
{
	f->values[kind] = pn_realloc(f->values[kind], (f->count[kind] + 1) * sizeof(char *));
	f->values[kind][f->count[kind]++] = pn_strdup(value);
}

/* audit_filter_add - one more condition */
int audit_filter_add(audit_filter *f, audit_filter_kind kind, const char *value, char **err)
{
	pn_cidr_list *l;

	*err = NULL;
	switch (kind) {
	case AUDIT_F_SINCE:
	case AUDIT_F_UNTIL:
		if (audit_time_parse(value, kind == AUDIT_F_SINCE ? &f->since_ms : &f->until_ms) < 0) {
			*err = pn_asprintf("bad time \"%s\": want e.g. 2024-05-01 or "
					   "2024-05-01T12:00:00Z", value);
			return -1;
		}
		*(kind == AUDIT_F_SINCE ? &f->has_since : &f->has_until) = 1;
		return 0;
	case AUDIT_F_CLIENT:
		if ((l = pn_cidr_list_parse(value, err)) == NULL)
			return -1;
		f->clients = pn_realloc(f->clients, (f->nclients + 1) * sizeof(*f->clients));
		f->clients[f->nclients++] = l;
		return 0;
	case AUDIT_F_FROM:
	case AUDIT_F_RCPT:
		if (*value == '\0' || (value[0] == '@' && value[1] == '\0')) {
			*err = pn_strdup("empty address");
			return -1;
		}
		push(f, kind, value);
		return 0;
	case AUDIT_F_COUNTRY:
	case AUDIT_F_QUEUE_ID:
		push(f, kind, value);
		return 0;
	case AUDIT_F_KINDS:
		break;
	}
	*err = pn_strdup("unknown filter");
	return -1;
}

/* path - member at a dotted path of plain object keys, or NULL */
static json_object *path(json_object *o, const char *p)
{
	char key[32];

	while (o && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		p += n + (p[n] == '.');
	}
	return o;
}

/* str_at - string member at a path, or NULL */
static const char *str_at(json_object *o, const char *p)
{
	json_object *v = path(o, p);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* addr_match - address against "user@dom" or "@dom", case-insensitively */
static int addr_match(const char *addr, const char *pattern)
{
	const char *at;

	if (addr == NULL)
		return 0;
	if (pattern[0] == '@')
		return (at = strrchr(addr, '@')) != NULL && strcasecmp(at + 1, pattern + 1) == 0;
	return strcasecmp(addr, pattern) == 0;
}

/* any_addr - does any address of a string or list of strings/{addr} match? */
static int any_addr(json_object *v, char **patterns, size_t n)
{
	size_t i, j;

	if (v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		for (j = 0; j < n; j++)
			if (addr_match(json_object_get_string(v), patterns[j]))
				return 1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(v); i++) {
		json_object *it = json_object_array_get_idx(v, i), *a;
		if (json_object_is_type(it, json_type_object) && json_object_object_get_ex(it, "addr", &a))
			it = a;
		if (any_addr(it, patterns, n))
			return 1;
	}
	return 0;
}

/* one_of - string equal (case-insensitive or not) to one of the values */
static int one_of(const char *s, char **values, size_t n, int nocase)
{
	size_t i;

	for (i = 0; s && i < n; i++)
		if (nocase ? strcasecmp(s, values[i]) == 0 : strcmp(s, values[i]) == 0)
			return 1;
	return 0;
}

/* wanted - does the record pass every condition? */
static int wanted(const audit_filter *f, json_object *rec)
{
	const char *s;
	size_t i;
	int hit;

	/* The trail's own bookkeeping (verify reads it) is not mail; a gap is
	 * exported: an auditor must see it. */
	if ((s = str_at(rec, "event")) != NULL
	    && (strcmp(s, "trail-start") == 0 || strcmp(s, "key-change") == 0))
		return 0;
	if (f->has_since || f->has_until) {
		long long ms;
		if ((s = str_at(rec, "ts")) == NULL || audit_time_parse(s, &ms) < 0)
			return 0;
		if ((f->has_since && ms < f->since_ms) || (f->has_until && ms >= f->until_ms))
			return 0;
	}
	if (f->count[AUDIT_F_FROM]
	    && !any_addr(path(rec, "envelope.from"), f->values[AUDIT_F_FROM], f->count[AUDIT_F_FROM])
	    && !any_addr(path(rec, "headers.from"), f->values[AUDIT_F_FROM], f->count[AUDIT_F_FROM]))
		return 0;
	if (f->count[AUDIT_F_RCPT]
	    && !any_addr(path(rec, "envelope.rcpt"), f->values[AUDIT_F_RCPT], f->count[AUDIT_F_RCPT])
	    && !any_addr(path(rec, "headers.to"), f->values[AUDIT_F_RCPT], f->count[AUDIT_F_RCPT])
	    && !any_addr(path(rec, "headers.cc"), f->values[AUDIT_F_RCPT], f->count[AUDIT_F_RCPT]))
		return 0;
	if (f->nclients) {
		s = str_at(rec, "client.ip");
		for (i = 0, hit = 0; s && i < f->nclients && !hit; i++)
			hit = pn_cidr_list_match(f->clients[i], s);
		if (!hit)
			return 0;
	}
	if (f->count[AUDIT_F_COUNTRY]
	    && !one_of(str_at(rec, "client.geo.country"), f->values[AUDIT_F_COUNTRY],
		       f->count[AUDIT_F_COUNTRY], 1))
		return 0;
	if (f->count[AUDIT_F_QUEUE_ID]
	    && !one_of(str_at(rec, "queue_id"), f->values[AUDIT_F_QUEUE_ID],
		       f->count[AUDIT_F_QUEUE_ID], 0))
		return 0;
	return 1;
}

/* csv_field - one RFC 4180 field, guarded against spreadsheet formulas */
static void csv_field(pn_buf *b, const char *s, int first)
{
	if (!first)
		pn_buf_putc(b, ',');
	if (s == NULL || *s == '\0')
		return;
	pn_buf_putc(b, '"');
	if (strchr("=+-@\t\r", *s))
		pn_buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '"')
			pn_buf_putc(b, '"');
		pn_buf_putc(b, *s);
	}
	pn_buf_putc(b, '"');
}

/* scalar - text of a string, number or boolean member, or NULL */
static const char *scalar(json_object *rec, const char *p)
{
	json_object *v = path(rec, p);

	if (v == NULL || json_object_is_type(v, json_type_object)
	    || json_object_is_type(v, json_type_array) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

/* joined - list members (strings, or objects' key) joined by sep */
static void joined(pn_buf *out, json_object *v, const char *key, const char *sep)
{
	size_t i;

	pn_buf_reset(out);
	if (v == NULL || !json_object_is_type(v, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(v); i++) {
		json_object *it = json_object_array_get_idx(v, i), *m;
		if (key && json_object_is_type(it, json_type_object)) {
			if (!json_object_object_get_ex(it, key, &m))
				continue;
			it = m;
		}
		if (!json_object_is_type(it, json_type_string))
			continue;
		if (pn_buf_len(out))
			pn_buf_puts(out, sep);
		pn_buf_puts(out, json_object_get_string(it));
	}
}

/* refusal_cell - "STEP BY CODE XCODE TEXT" of a refused or outcome record */
static void refusal_cell(pn_buf *out, json_object *ref)
{
	static const char *parts[] = {"step", "by", "code", "xcode", "text", NULL};
	const char *s;
	size_t i;

	pn_buf_reset(out);
	for (i = 0; ref && parts[i]; i++) {
		if ((s = scalar(ref, parts[i])) == NULL)
			continue;
		if (pn_buf_len(out))
			pn_buf_putc(out, ' ');
		pn_buf_puts(out, s);
	}
}

/* csv_row - one record as a CSV row */
static void csv_row(pn_buf *b, json_object *rec)
{
	static const char *simple[] = {
		"ts", "seq", "event", "host", "queue_id", "duration_ms", "client.ip", "client.port",
		"client.name", "client.helo", "client.geo.country", "client.geo.asn",
		"client.geo.as_org", "tls.version", "tls.cipher", "tls.verified", "auth.user",
		"envelope.from", NULL
	};
	pn_buf list;
	json_object *att = path(rec, "attachments");
	char count[32];
	size_t i;

	pn_buf_init(&list, 0);
	pn_buf_reset(b);
	for (i = 0; simple[i]; i++)
		csv_field(b, scalar(rec, simple[i]), i == 0);
	joined(&list, path(rec, "envelope.rcpt"), NULL, " ");
	csv_field(b, pn_buf_str(&list), 0);
	joined(&list, path(rec, "headers.from"), "addr", " ");
	csv_field(b, pn_buf_str(&list), 0);
	joined(&list, path(rec, "headers.to"), "addr", " ");
	csv_field(b, pn_buf_str(&list), 0);
	csv_field(b, scalar(rec, "headers.subject"), 0);
	csv_field(b, scalar(rec, "headers.message_id"), 0);
	csv_field(b, scalar(rec, "size"), 0);
	csv_field(b, scalar(rec, "sha256"), 0);
	if (att && json_object_is_type(att, json_type_array)) {
		snprintf(count, sizeof(count), "%zu", json_object_array_length(att));
		csv_field(b, count, 0);
	} else {
		csv_field(b, NULL, 0);
	}
	joined(&list, att, "filename", "; ");
	csv_field(b, pn_buf_str(&list), 0);
	refusal_cell(&list, path(rec, "refusal"));
	csv_field(b, pn_buf_str(&list), 0);
	pn_buf_puts(b, "\r\n");
	pn_buf_free(&list);
}

/* audit_export_new - start an export to out */
audit_export *audit_export_new(const audit_filter *f, audit_format fmt, FILE *out)
{
	audit_export *x = pn_calloc(1, sizeof(*x));
	size_t i;

	x->f = f;
	x->fmt = fmt;
	x->out = out;
	x->tok = json_tokener_new();
	pn_buf_init(&x->row, 0);
	if (fmt == AUDIT_FMT_JSON) {
		fputs("[", out);
	} else if (fmt == AUDIT_FMT_CSV) {
		for (i = 0; csv_columns[i]; i++)
			fprintf(out, "%s%s", i ? "," : "", csv_columns[i]);
		fputs("\r\n", out);
	}
	return x;
}

/* audit_export_line - filter and write one trail line */
int audit_export_line(audit_export *x, const char *line, size_t len)
{
	json_tokener *tok = x->tok;
	json_object *rec;
	int rc = -1;

	json_tokener_reset(tok);
	rec = json_tokener_parse_ex(tok, line, (int)len);

	if (rec == NULL || json_tokener_get_parse_end(tok) != len
	    || !json_object_is_type(rec, json_type_object))
		goto out;
	rc = 0;
	if (!wanted(x->f, rec))
		goto out;
	switch (x->fmt) {
	case AUDIT_FMT_JSONL:
		fwrite(line, 1, len, x->out);
		fputc('\n', x->out);
		break;
	case AUDIT_FMT_JSON:
		fputs(x->written ? ",\n" : "\n", x->out);
		fwrite(line, 1, len, x->out);
		break;
	case AUDIT_FMT_CSV:
		csv_row(&x->row, rec);
		fwrite(pn_buf_str(&x->row), 1, pn_buf_len(&x->row), x->out);
		break;
	case AUDIT_FMT_ECS:
	case AUDIT_FMT_OCSF:
	case AUDIT_FMT_CIM:
		pn_buf_reset(&x->row);
		if (!audit_siem_write(x->fmt == AUDIT_FMT_ECS ? AUDIT_SIEM_ECS
				      : x->fmt == AUDIT_FMT_OCSF ? AUDIT_SIEM_OCSF : AUDIT_SIEM_CIM,
				      rec, line, len, &x->row))
			goto out;	/* the format's rule skips this record */
		fwrite(pn_buf_str(&x->row), 1, pn_buf_len(&x->row), x->out);
		break;
	}
	x->written++;
	rc = 1;
out:
	json_object_put(rec);
	return rc;
}

/* audit_export_count - records written so far */
unsigned long audit_export_count(const audit_export *x)
{
	return x->written;
}

/* audit_export_finish - close the JSON array, flush, free */
int audit_export_finish(audit_export *x)
{
	int rc;

	if (x->fmt == AUDIT_FMT_JSON)
		fputs("\n]\n", x->out);
	rc = fflush(x->out) == 0 && !ferror(x->out) ? 0 : -1;
	pn_buf_free(&x->row);
	json_tokener_free(x->tok);
	pn_free(x);
	return rc;
}
