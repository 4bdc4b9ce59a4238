/* SPDX-License-Identifier: BSD-2-Clause */
/* record - deliveries, objects and their one-line JSON form (see record.h) */
#include "milters/archive/record.h"
#include "common/alloc.h"
#include "common/rfc2047.h"

#include <json.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* arc_delivery_new - empty delivery; every string field starts as "" */
arc_delivery *arc_delivery_new(void)
{
	arc_delivery *d = pn_calloc(1, sizeof(*d));

	d->id = pn_strdup("");
	d->queue_id = pn_strdup("");
	d->sha256 = pn_strdup("");
	d->mta = pn_strdup("");
	d->client_addr = pn_strdup("");
	d->client_name = pn_strdup("");
	d->helo = pn_strdup("");
	d->auth = pn_strdup("");
	d->direction = pn_strdup("inbound");
	d->sender = pn_strdup("");
	d->hdr_from = pn_strdup("");
	d->hdr_to = pn_strdup("");
	d->hdr_cc = pn_strdup("");
	d->subject = pn_strdup("");
	d->message_id = pn_strdup("");
	d->hdr_date = pn_strdup("");
	return d;
}

/* push - append a copy of s to a growing string vector */
static void push(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*v = pn_realloc(*v, *cap * sizeof(char *));
	}
	(*v)[(*n)++] = pn_strdup(s);
}

/* arc_delivery_add_rcpt - one more envelope recipient */
void arc_delivery_add_rcpt(arc_delivery *d, const char *addr)
{
	push(&d->rcpts, &d->nrcpts, &d->rcpt_cap, addr);
}

/* arc_delivery_add_attachment - one more attachment name */
void arc_delivery_add_attachment(arc_delivery *d, const char *name)
{
	push(&d->attachments, &d->nattachments, &d->attachment_cap, name);
}

/* free_vec - free n strings and the vector */
static void free_vec(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* arc_delivery_free - release a delivery (NULL is fine) */
void arc_delivery_free(arc_delivery *d)
{
	if (d == NULL)
		return;
	pn_free(d->id);
	pn_free(d->queue_id);
	pn_free(d->sha256);
	pn_free(d->mta);
	pn_free(d->client_addr);
	pn_free(d->client_name);
	pn_free(d->helo);
	pn_free(d->auth);
	pn_free(d->direction);
	pn_free(d->sender);
	pn_free(d->hdr_from);
	pn_free(d->hdr_to);
	pn_free(d->hdr_cc);
	pn_free(d->subject);
	pn_free(d->message_id);
	pn_free(d->hdr_date);
	free_vec(d->rcpts, d->nrcpts);
	free_vec(d->attachments, d->nattachments);
	pn_free(d);
}

/* arc_new_id - time-ordered delivery id with 32 random bits */
char *arc_new_id(time_t when)
{
	struct tm tm;
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		/* getrandom cannot fail for 4 bytes after boot; be safe anyway */
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (unsigned int)ts.tv_nsec ^ (unsigned int)getpid();
	}
	gmtime_r(&when, &tm);
	return pn_asprintf("%04d%02d%02d%02d%02d%02d-%08x", tm.tm_year + 1900, tm.tm_mon + 1,
			   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, r);
}

/* arc_is_sha256 - 64 lower-case hex digits */
int arc_is_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

/* arc_is_id - "YYYYMMDDhhmmss-xxxxxxxx" */
int arc_is_id(const char *s)
{
	size_t i;

	if (strlen(s) != ARC_ID_LEN || s[14] != '-')
		return 0;
	for (i = 0; i < ARC_ID_LEN; i++) {
		if (i == 14)
			continue;
		if (i < 14 ? !(s[i] >= '0' && s[i] <= '9')
			   : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* arc_clean - valid UTF-8 without control characters */
char *arc_clean(const char *s)
{
	char *out = pn_utf8_sanitize(s ? s : "", s ? strlen(s) : 0), *p;

	for (p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

/* arc_format_time - ISO 8601 UTC */
void arc_format_time(long long t, char out[ARC_TIME_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, ARC_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* str - a JSON string from a C string (NULL as "") */
static json_object *str(const char *s)
{
	return json_object_new_string(s ? s : "");
}

/* str_array - a JSON array of n strings */
static json_object *str_array(char **v, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, str(v[i]));
	return a;
}

/* delivery_json - the fields of a delivery record */
static void delivery_json(json_object *o, const arc_delivery *d)
{
	json_object_object_add(o, "id", str(d->id));
	json_object_object_add(o, "time", json_object_new_int64(d->time));
	json_object_object_add(o, "queue_id", str(d->queue_id));
	json_object_object_add(o, "sha256", str(d->sha256));
	json_object_object_add(o, "mta", str(d->mta));
	json_object_object_add(o, "client_addr", str(d->client_addr));
	json_object_object_add(o, "client_name", str(d->client_name));
	json_object_object_add(o, "helo", str(d->helo));
	json_object_object_add(o, "auth", str(d->auth));
	json_object_object_add(o, "direction", str(d->direction));
	json_object_object_add(o, "sender", str(d->sender));
	json_object_object_add(o, "recipients", str_array(d->rcpts, d->nrcpts));
	json_object_object_add(o, "from", str(d->hdr_from));
	json_object_object_add(o, "to", str(d->hdr_to));
	json_object_object_add(o, "cc", str(d->hdr_cc));
	json_object_object_add(o, "subject", str(d->subject));
	json_object_object_add(o, "message_id", str(d->message_id));
	json_object_object_add(o, "date", str(d->hdr_date));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)d->size));
	json_object_object_add(o, "stored_size", json_object_new_int64((int64_t)d->stored_size));
	json_object_object_add(o, "attachments", str_array(d->attachments, d->nattachments));
}

/* arc_record_json - one line of JSON (no newline); caller frees */
char *arc_record_json(const arc_record *r)
{
	json_object *o = json_object_new_object();
	char *out;

	switch (r->type) {
	case ARC_REC_OBJECT:
		json_object_object_add(o, "type", str("object"));
		json_object_object_add(o, "sha256", str(r->object.sha256));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)r->object.size));
		json_object_object_add(o, "stored_size",
				       json_object_new_int64((int64_t)r->object.stored_size));
		json_object_object_add(o, "stored_sha256", str(r->object.stored_sha256));
		json_object_object_add(o, "encrypted", json_object_new_boolean(r->object.encrypted));
		json_object_object_add(o, "time", json_object_new_int64(r->object.time));
		break;
	case ARC_REC_DELIVERY:
		json_object_object_add(o, "type", str("delivery"));
		delivery_json(o, r->delivery);
		break;
	case ARC_REC_VOID:
		json_object_object_add(o, "type", str("void"));
		json_object_object_add(o, "id", str(r->id));
		json_object_object_add(o, "time", json_object_new_int64(r->time));
		json_object_object_add(o, "reason", str(r->reason));
		break;
	case ARC_REC_HOLD:
	case ARC_REC_RELEASE:
		json_object_object_add(o, "type", str(r->type == ARC_REC_HOLD ? "hold" : "release"));
		json_object_object_add(o, "ids", str_array(r->ids, r->nids));
		json_object_object_add(o, "time", json_object_new_int64(r->time));
		json_object_object_add(o, "usec", json_object_new_int64(r->usec));
		json_object_object_add(o, "user", str(r->user));
		json_object_object_add(o, "reason", str(r->reason));
		break;
	}
	out = pn_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN
						       | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

/* arc_delivery_json - a delivery's fields and some extra ones as one JSON line */
char *arc_delivery_json(const arc_delivery *d, const arc_json_extra *extra, size_t n)
{
	json_object *o = json_object_new_object();
	char *out;
	size_t i;

	delivery_json(o, d);
	for (i = 0; i < n; i++) {
		json_object *v = extra[i].type == 'b' ? json_object_new_boolean(extra[i].i != 0)
				 : extra[i].type == 'i' ? json_object_new_int64(extra[i].i)
				 : str(extra[i].s);
		json_object_object_add(o, extra[i].key, v);
	}
	out = pn_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN
						       | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

/* get_str - a string field, or NULL when absent or not a string */
static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* get_int - an integer field, or -1 */
static long long get_int(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return (long long)json_object_get_int64(v);
}

/* set - replace *field with a clean copy of a string field, if present */
static void set(char **field, json_object *o, const char *key)
{
	const char *s = get_str(o, key);

	if (s) {
		pn_free(*field);
		*field = arc_clean(s);
	}
}

/* each_str - call add for every string in an array field */
static void each_str(json_object *o, const char *key, void (*add)(arc_delivery *, const char *),
		     arc_delivery *d)
{
	json_object *a;
	size_t i, n;

	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (json_object_is_type(e, json_type_string)) {
			char *c = arc_clean(json_object_get_string(e));
			add(d, c);
			pn_free(c);
		}
	}
}

/* parse_delivery - a delivery record's fields; -1 when essentials are missing */
static int parse_delivery(json_object *o, arc_record *r)
{
	arc_delivery *d = arc_delivery_new();
	long long v;

	r->delivery = d;
	set(&d->id, o, "id");
	set(&d->queue_id, o, "queue_id");
	set(&d->sha256, o, "sha256");
	set(&d->mta, o, "mta");
	set(&d->client_addr, o, "client_addr");
	set(&d->client_name, o, "client_name");
	set(&d->helo, o, "helo");
	set(&d->auth, o, "auth");
	set(&d->direction, o, "direction");
	set(&d->sender, o, "sender");
	set(&d->hdr_from, o, "from");
	set(&d->hdr_to, o, "to");
	set(&d->hdr_cc, o, "cc");
	set(&d->subject, o, "subject");
	set(&d->message_id, o, "message_id");
	set(&d->hdr_date, o, "date");
	each_str(o, "recipients", arc_delivery_add_rcpt, d);
	each_str(o, "attachments", arc_delivery_add_attachment, d);
	d->time = get_int(o, "time");
	v = get_int(o, "size");
	d->size = v > 0 ? (unsigned long long)v : 0;
	v = get_int(o, "stored_size");
	d->stored_size = v > 0 ? (unsigned long long)v : 0;
	if (!arc_is_id(d->id) || !arc_is_sha256(d->sha256) || d->time < 0)
		return -1;
	return 0;
}

/* parse_object - an object record's fields */
static int parse_object(json_object *o, arc_record *r)
{
	const char *sha = get_str(o, "sha256"), *ssha = get_str(o, "stored_sha256");
	json_object *enc;
	long long v;

	if (sha == NULL || !arc_is_sha256(sha) || ssha == NULL || !arc_is_sha256(ssha))
		return -1;
	memcpy(r->object.sha256, sha, 65);
	memcpy(r->object.stored_sha256, ssha, 65);
	v = get_int(o, "size");
	r->object.size = v > 0 ? (unsigned long long)v : 0;
	v = get_int(o, "stored_size");
	r->object.stored_size = v > 0 ? (unsigned long long)v : 0;
	r->object.time = get_int(o, "time");
	r->object.encrypted = json_object_object_get_ex(o, "encrypted", &enc)
			      && json_object_get_boolean(enc);
	return 0;
}

/* parse_ids - the id list of a hold or release record */
static int parse_ids(json_object *o, arc_record *r)
{
	json_object *a;
	size_t i, n;

	if (!json_object_object_get_ex(o, "ids", &a) || !json_object_is_type(a, json_type_array))
		return -1;
	n = json_object_array_length(a);
	r->ids = pn_calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (json_object_is_type(e, json_type_string))
			r->ids[r->nids++] = arc_clean(json_object_get_string(e));
	}
	r->time = get_int(o, "time");
	r->usec = get_int(o, "usec");
	if (r->usec < 0)
		r->usec = r->time * 1000000LL;
	set(&r->user, o, "user");
	set(&r->reason, o, "reason");
	return 0;
}

/* arc_record_parse - one journal line back into a record */
int arc_record_parse(const char *line, size_t len, arc_record *r)
{
	json_tokener *tok;
	json_object *o;
	const char *type;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (len == 0 || len > (size_t)0x7fffffff)
		return -1;
	tok = json_tokener_new_ex(32);
	if (tok == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success
	    && json_object_is_type(o, json_type_object) && (type = get_str(o, "type")) != NULL) {
		if (strcmp(type, "object") == 0) {
			r->type = ARC_REC_OBJECT;
			rc = parse_object(o, r);
		} else if (strcmp(type, "delivery") == 0) {
			r->type = ARC_REC_DELIVERY;
			rc = parse_delivery(o, r);
		} else if (strcmp(type, "void") == 0) {
			r->type = ARC_REC_VOID;
			set(&r->id, o, "id");
			set(&r->reason, o, "reason");
			r->time = get_int(o, "time");
			rc = r->id && *r->id ? 0 : -1;
		} else if (strcmp(type, "hold") == 0 || strcmp(type, "release") == 0) {
			r->type = type[0] == 'h' ? ARC_REC_HOLD : ARC_REC_RELEASE;
			rc = parse_ids(o, r);
		}
	}
	if (o)
		json_object_put(o);
	json_tokener_free(tok);
	if (rc < 0)
		arc_record_clear(r);
	return rc;
}

/* arc_record_clear - free what a parsed or built record holds */
void arc_record_clear(arc_record *r)
{
	size_t i;

	arc_delivery_free(r->delivery);
	pn_free(r->id);
	for (i = 0; i < r->nids; i++)
		pn_free(r->ids[i]);
	pn_free(r->ids);
	pn_free(r->reason);
	pn_free(r->user);
	memset(r, 0, sizeof(*r));
}
