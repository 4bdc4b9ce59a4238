/* SPDX-License-Identifier: BSD-2-Clause */
/* siem - one record model, mapped to ECS, OCSF and Splunk CIM (see siem.h) */
#include "milters/audit/jsonval.h"
#include "milters/audit/siem.h"
#include "common/alloc.h"
#include "common/crypto.h"
#include "milters/audit/export.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "0"
#endif

#define DATASET "postern.audit"
#define UNKNOWN "unknown"	/* CIM's convention for a required field without a value */

/* ---- reading the record ------------------------------------------------ */

/* num - an integer member into *out; 0 when absent or not an integer */
static int num(json_object *o, const char *key, long long *out)
{
	json_object *v = jv_member(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return 0;
	*out = (long long)json_object_get_int64(v);
	return 1;
}

/* of_type - a member if it has the given type, else NULL */
static json_object *of_type(json_object *o, const char *key, json_type t)
{
	json_object *v = jv_member(o, key);

	return v && json_object_is_type(v, t) ? v : NULL;
}

/* is_loopback - a client address of this machine */
static int is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0
		|| strncasecmp(ip, "::ffff:127.", 11) == 0;
}

/* audit_siem_model - read one parsed record into the model */
void audit_siem_model(audit_siem_record *r, json_object *rec, const char *line, size_t len)
{
	json_object *client, *geo, *tls, *auth, *env, *hdr, *v;
	const char *event;
	long long n;

	memset(r, 0, sizeof(*r));
	r->rec = rec;
	r->tls_verified = -1;
	r->tls_bits = -1;
	event = jv_str(rec, "event");
	r->kind = AUDIT_SIEM_OTHER;
	r->kind_name = jv_str(rec, "type") ? jv_str(rec, "type") : event ? event : "record";
	/* A record of a kind added later (a "type" member) is not an email record. */
	if (event && jv_member(rec, "type") == NULL) {
		if (strcmp(event, "message") == 0)
			r->kind = AUDIT_SIEM_MESSAGE;
		else if (strcmp(event, "aborted") == 0)
			r->kind = AUDIT_SIEM_ABORTED;
		else if (strcmp(event, "connection") == 0)
			r->kind = AUDIT_SIEM_CONNECTION;
		else if (strcmp(event, "refused") == 0)
			r->kind = AUDIT_SIEM_REFUSED;
		else if (strcmp(event, "outcome") == 0)
			r->kind = AUDIT_SIEM_OUTCOME;
	}
	r->has_seq = num(rec, "seq", &r->seq);
	r->ts = jv_str(rec, "ts");
	r->has_time = r->ts && audit_time_parse(r->ts, &r->time_ms) == 0;
	if (!r->has_time) {
		/* ECS's rule for a source without a time: when the pipeline got it */
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		r->time_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		strftime(r->now, sizeof(r->now), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(r->now + strlen(r->now), sizeof(r->now) - strlen(r->now), ".%03dZ",
			 (int)(now.tv_nsec / 1000000));
	}
	r->host = jv_str(rec, "host");
	r->queue_id = jv_str(rec, "queue_id");
	r->has_duration = num(rec, "duration_ms", &r->duration_ms) && r->duration_ms >= 0;

	client = of_type(rec, "client", json_type_object);
	r->client_ip = jv_str(client, "ip");
	r->client_name = jv_str(client, "name");
	r->helo = jv_str(client, "helo");
	if (num(client, "port", &n) && n > 0 && n < 65536)
		r->client_port = n;
	geo = of_type(client, "geo", json_type_object);
	r->country = jv_str(geo, "country");
	r->as_org = jv_str(geo, "as_org");
	if (num(geo, "asn", &n) && n > 0)
		r->asn = n;

	if ((tls = of_type(rec, "tls", json_type_object)) != NULL) {
		r->has_tls = 1;
		r->tls_version = jv_str(tls, "version");
		r->tls_cipher = jv_str(tls, "cipher");
		r->cert_subject = jv_str(tls, "cert_subject");
		r->cert_issuer = jv_str(tls, "cert_issuer");
		if (num(tls, "bits", &n) && n >= 0)
			r->tls_bits = n;
		if ((v = of_type(tls, "verified", json_type_boolean)) != NULL)
			r->tls_verified = json_object_get_boolean(v);
	}
	auth = of_type(rec, "auth", json_type_object);
	r->auth_type = jv_str(auth, "type");
	r->auth_user = jv_str(auth, "user");
	r->auth_author = jv_str(auth, "author");

	if ((env = of_type(rec, "envelope", json_type_object)) != NULL) {
		r->has_envelope = 1;
		r->env_from = jv_str(env, "from");
		r->env_rcpt = of_type(env, "rcpt", json_type_array);
	}
	hdr = of_type(rec, "headers", json_type_object);
	r->hdr_from = of_type(hdr, "from", json_type_array);
	r->hdr_to = of_type(hdr, "to", json_type_array);
	r->hdr_cc = of_type(hdr, "cc", json_type_array);
	r->hdr_reply_to = of_type(hdr, "reply_to", json_type_array);
	r->subject = jv_str(hdr, "subject");
	r->message_id = jv_str(hdr, "message_id");
	r->date = jv_str(hdr, "date");
	r->in_reply_to = jv_str(hdr, "in_reply_to");
	r->list_id = jv_str(hdr, "list_id");
	r->extra = of_type(hdr, "extra", json_type_object);
	r->duplicates = of_type(hdr, "duplicates", json_type_object);
	r->unparsed = of_type(hdr, "unparsed", json_type_object);
	r->hdr_truncated = of_type(hdr, "truncated", json_type_boolean) != NULL;

	r->has_size = num(rec, "size", &r->size) && r->size >= 0;
	r->sha256 = jv_str(rec, "sha256");
	r->attachments = of_type(rec, "attachments", json_type_array);
	r->attachments_truncated = of_type(rec, "attachments_truncated", json_type_boolean) != NULL;
	r->mime = of_type(rec, "mime", json_type_object);
	r->privacy = of_type(rec, "privacy", json_type_object);
	r->engines = of_type(rec, "engines", json_type_object);
	if ((r->refusal = of_type(rec, "refusal", json_type_object)) != NULL) {
		r->refusal_by = jv_str(r->refusal, "by");
		r->refusal_step = jv_str(r->refusal, "step");
		r->refusal_code = jv_str(r->refusal, "code");
		r->refusal_text = jv_str(r->refusal, "text");
		r->refusal_reason = jv_str(r->refusal, "reason");
	}
	r->has_corrects = num(rec, "corrects_seq", &r->corrects_seq);
	r->prev = jv_str(rec, "prev");
	r->mac = jv_str(rec, "mac");
	if (line) {
		unsigned char d[PN_SHA256_LEN];
		pn_sha256_once(line, len, d);
		pn_hex(d, sizeof(d), r->line_sha256);
	}
	/* Postern sees only the receiving side: an authenticated client is
	 * sending out; any other client from elsewhere is sending in. */
	if (r->auth_user)
		r->direction = AUDIT_SIEM_DIR_OUTBOUND;
	else if (r->client_ip && !is_loopback(r->client_ip))
		r->direction = AUDIT_SIEM_DIR_INBOUND;
}

/* ---- building events --------------------------------------------------- */

/* add - o.key = v; every key here is a string literal, so json-c need not copy it */
static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add_ex(o, key, v, JSON_C_OBJECT_KEY_IS_CONSTANT);
}

/* child - the object at key in o, created when missing */
static json_object *child(json_object *o, const char *key)
{
	json_object *c;

	if (json_object_object_get_ex(o, key, &c))
		return c;
	c = json_object_new_object();
	add(o, key, c);
	return c;
}

/* put_str - o.key = s, when s is not NULL */
static void put_str(json_object *o, const char *key, const char *s)
{
	if (s)
		add(o, key, json_object_new_string(s));
}

/* put_int - o.key = n */
static void put_int(json_object *o, const char *key, long long n)
{
	add(o, key, json_object_new_int64((int64_t)n));
}

/* put_copy - o.key = another reference to v, when v is not NULL */
static void put_copy(json_object *o, const char *key, json_object *v)
{
	if (v)
		add(o, key, json_object_get(v));
}

/* addr_at - the address of item i of a header list ({addr}) or of a string list */
static const char *addr_at(json_object *list, size_t i)
{
	json_object *it = json_object_array_get_idx(list, i);

	if (json_object_is_type(it, json_type_string))
		return json_object_get_string(it);
	return jv_str(it, "addr");
}

/* count - items of an array, 0 for NULL */
static size_t count(json_object *list)
{
	return list ? json_object_array_length(list) : 0;
}

/* in_list - is addr (case-insensitively) one of the list's addresses? */
static int in_list(json_object *list, const char *addr)
{
	size_t i;
	const char *a;

	for (i = 0; i < count(list); i++)
		if ((a = addr_at(list, i)) != NULL && strcasecmp(a, addr) == 0)
			return 1;
	return 0;
}

/* addresses - the addresses of a list as a new array of strings, or NULL if none */
static json_object *addresses(json_object *list)
{
	json_object *out = NULL;
	const char *a;
	size_t i;

	for (i = 0; i < count(list); i++) {
		if ((a = addr_at(list, i)) == NULL || *a == '\0')
			continue;
		if (out == NULL)
			out = json_object_new_array();
		json_object_array_add(out, json_object_new_string(a));
	}
	return out;
}

/* blind_copies - envelope recipients in neither To nor Cc, or NULL if none */
static json_object *blind_copies(const audit_siem_record *r)
{
	json_object *out = NULL;
	const char *a;
	size_t i;

	for (i = 0; i < count(r->env_rcpt); i++) {
		if ((a = addr_at(r->env_rcpt, i)) == NULL || *a == '\0' || in_list(r->hdr_to, a)
		    || in_list(r->hdr_cc, a))
			continue;
		if (out == NULL)
			out = json_object_new_array();
		json_object_array_add(out, json_object_new_string(a));
	}
	return out;
}

/* put_list - o.key = list, when list is not NULL (takes the reference) */
static void put_list(json_object *o, const char *key, json_object *list)
{
	if (list)
		add(o, key, list);
}

/* client_domain - the client's reverse name, unless the MTA found none */
static const char *client_domain(const audit_siem_record *r)
{
	return r->client_name && strcmp(r->client_name, "unknown") != 0 ? r->client_name : NULL;
}

/* tls_number - "1.3" of "TLSv1.3"; NULL for a version not named that way */
static const char *tls_number(const char *version, const char **protocol)
{
	if (version == NULL)
		return NULL;
	if (strncmp(version, "TLSv", 4) == 0 && version[4]) {
		*protocol = "tls";
		return version + 4;
	}
	if (strncmp(version, "SSLv", 4) == 0 && version[4]) {
		*protocol = "ssl";
		return version + 4;
	}
	return NULL;
}

/* refusal_words - "refused at rcpt by tls: 450 4.7.1 TLS required (reason)", new */
static char *refusal_words(const audit_siem_record *r)
{
	const char *x = jv_str(r->refusal, "xcode");

	return pn_asprintf("%s at %s by %s: %s%s%s%s%s%s%s%s",
			   r->kind == AUDIT_SIEM_OUTCOME ? "refused after its record" : "refused",
			   r->refusal_step ? r->refusal_step : "unknown step",
			   r->refusal_by ? r->refusal_by : "unknown",
			   r->refusal_code ? r->refusal_code : jv_str(r->refusal, "verdict") ?
			   jv_str(r->refusal, "verdict") : "",
			   x ? " " : "", x ? x : "",
			   r->refusal_text ? " " : "", r->refusal_text ? r->refusal_text : "",
			   r->refusal_reason ? " (" : "", r->refusal_reason ? r->refusal_reason : "",
			   r->refusal_reason ? ")" : "");
}

/* postern_facts - Postern's own members, for ECS postern.* and OCSF unmapped */
static void postern_facts(json_object *p, const audit_siem_record *r)
{
	json_object *o;

	if (r->has_seq)
		put_int(p, "seq", r->seq);
	put_str(p, "event", r->kind_name);
	if (!r->has_time)
		put_str(p, "ts", r->ts);	/* not a time: kept as written */
	put_str(p, "prev", r->prev);
	put_str(p, "mac", r->mac);
	if (r->line_sha256[0])
		put_str(p, "record_sha256", r->line_sha256);
	put_str(p, "sha256", r->sha256);
	if (r->has_size)
		put_int(p, "size", r->size);
	if (r->has_duration)
		put_int(p, "duration_ms", r->duration_ms);
	if (r->helo)
		put_str(child(p, "client"), "helo", r->helo);
	if (r->has_tls && (r->tls_bits >= 0 || r->tls_verified >= 0)) {
		o = child(p, "tls");
		if (r->tls_bits >= 0)
			put_int(o, "bits", r->tls_bits);
		if (r->tls_verified >= 0)
			add(o, "verified",
					       json_object_new_boolean(r->tls_verified));
	}
	if (r->auth_type || r->auth_author) {
		o = child(p, "auth");
		put_str(o, "type", r->auth_type);
		put_str(o, "author", r->auth_author);
	}
	if (r->has_envelope) {
		o = child(p, "envelope");
		put_str(o, "from", r->env_from);
		put_copy(o, "rcpt", r->env_rcpt);
	}
	if (r->date || r->in_reply_to || r->list_id || r->extra || r->duplicates || r->unparsed
	    || r->hdr_truncated) {
		o = child(p, "headers");
		put_str(o, "date", r->date);
		put_str(o, "in_reply_to", r->in_reply_to);
		put_str(o, "list_id", r->list_id);
		put_copy(o, "extra", r->extra);
		put_copy(o, "duplicates", r->duplicates);
		put_copy(o, "unparsed", r->unparsed);
		if (r->hdr_truncated)
			add(o, "truncated", json_object_new_boolean(1));
	}
	if (r->attachments_truncated)
		add(p, "attachments_truncated", json_object_new_boolean(1));
	/* no ECS or OCSF field describes a MIME tree: Postern's own */
	put_copy(p, "mime", r->mime);
	put_copy(p, "privacy", r->privacy);
	put_copy(p, "engines", r->engines);
	put_copy(p, "refusal", r->refusal);
	if (r->has_corrects)
		put_int(p, "corrects_seq", r->corrects_seq);
}

/* ---- ECS --------------------------------------------------------------- */

/* ecs_event - @timestamp, event.*, host, and the record kind's classification */
static void ecs_event(json_object *e, const audit_siem_record *r)
{
	json_object *ev, *a;
	static const char *actions[] = {"message-received", "message-aborted",
					"connection-without-message", "message-refused",
					"message-outcome"};

	put_str(e, "@timestamp", r->has_time ? r->ts : r->now);
	ev = child(e, "event");
	put_str(child(e, "ecs"), "version", AUDIT_SIEM_ECS_VERSION);
	put_str(ev, "kind", "event");
	put_str(ev, "module", "postern");
	put_str(ev, "dataset", DATASET);
	if (r->has_seq)
		put_int(ev, "sequence", r->seq);
	if (r->has_duration)
		put_int(ev, "duration", r->duration_ms * 1000000LL);	/* nanoseconds */
	if (r->line_sha256[0])
		put_str(ev, "id", r->line_sha256);
	if (r->kind == AUDIT_SIEM_OTHER) {
		char *action = pn_asprintf("audit-%s", r->kind_name);
		put_str(ev, "action", action);
		pn_free(action);
		put_str(ev, "outcome", "unknown");
	} else {
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string(
			r->kind == AUDIT_SIEM_CONNECTION ? "network" : "email"));
		add(ev, "category", a);
		a = json_object_new_array();
		if (r->kind == AUDIT_SIEM_CONNECTION) {
			json_object_array_add(a, json_object_new_string("connection"));
			json_object_array_add(a, json_object_new_string("end"));
		} else if (r->kind == AUDIT_SIEM_REFUSED || r->kind == AUDIT_SIEM_OUTCOME) {
			json_object_array_add(a, json_object_new_string("denied"));
		} else {
			json_object_array_add(a, json_object_new_string("info"));
		}
		add(ev, "type", a);
		put_str(ev, "action", actions[r->kind]);
		put_str(ev, "outcome", r->kind == AUDIT_SIEM_MESSAGE ? "success" : "failure");
		if (r->refusal) {
			char *why = refusal_words(r);
			put_str(ev, "reason", why);
			pn_free(why);
		}
	}
	put_str(child(e, "host"), "name", r->host);
	put_str(child(e, "observer"), "vendor", "Postern");
	put_str(child(e, "observer"), "product", "postern-audit");
	put_str(child(e, "observer"), "version", POSTERN_VERSION);
}

/* ecs_email - email.*, from the headers and the envelope */
static void ecs_email(json_object *e, const audit_siem_record *r)
{
	json_object *em = json_object_new_object(), *list, *atts;
	size_t i;

	if ((list = addresses(r->hdr_from)) != NULL)
		add(child(em, "from"), "address", list);
	if ((list = addresses(r->hdr_to)) != NULL)
		add(child(em, "to"), "address", list);
	if ((list = addresses(r->hdr_cc)) != NULL)
		add(child(em, "cc"), "address", list);
	if ((list = blind_copies(r)) != NULL)
		add(child(em, "bcc"), "address", list);
	if ((list = addresses(r->hdr_reply_to)) != NULL)
		add(child(em, "reply_to"), "address", list);
	put_str(em, "subject", r->subject);
	put_str(em, "message_id", r->message_id);
	put_str(em, "local_id", r->queue_id);
	if (r->kind != AUDIT_SIEM_CONNECTION && r->direction != AUDIT_SIEM_DIR_UNKNOWN)
		put_str(em, "direction",
			r->direction == AUDIT_SIEM_DIR_INBOUND ? "inbound" : "outbound");
	if (count(r->attachments)) {
		atts = json_object_new_array();
		for (i = 0; i < count(r->attachments); i++) {
			json_object *a = json_object_array_get_idx(r->attachments, i);
			json_object *f = json_object_new_object(), *w = json_object_new_object();
			long long n;

			put_str(f, "name", jv_str(a, "filename"));
			put_str(f, "mime_type", jv_str(a, "content_type"));
			if (num(a, "size", &n))
				put_int(f, "size", n);
			if (jv_str(a, "sha256"))
				put_str(child(f, "hash"), "sha256", jv_str(a, "sha256"));
			add(w, "file", f);
			json_object_array_add(atts, w);
		}
		add(em, "attachments", atts);
	}
	if (json_object_object_length(em))
		add(e, "email", em);
	else
		json_object_put(em);
}

/* ecs_map - one record as an ECS event */
static json_object *ecs_map(const audit_siem_record *r)
{
	json_object *e = json_object_new_object(), *o, *p;
	const char *protocol = NULL, *number;

	ecs_event(e, r);
	if (r->kind == AUDIT_SIEM_OTHER) {
		p = child(e, "postern");
		if (r->has_seq)
			put_int(p, "seq", r->seq);
		put_str(p, "event", r->kind_name);
		put_copy(p, "record", r->rec);
		return e;
	}
	ecs_email(e, r);
	if (r->has_tls) {
		o = child(e, "tls");
		add(o, "established", json_object_new_boolean(1));
		if ((number = tls_number(r->tls_version, &protocol)) != NULL) {
			put_str(o, "version", number);
			put_str(o, "version_protocol", protocol);
		}
		put_str(o, "cipher", r->tls_cipher);
		if (r->cert_subject)
			put_str(child(child(child(o, "client"), "x509"), "subject"), "common_name",
				r->cert_subject);
		if (r->cert_issuer)
			put_str(child(child(child(o, "client"), "x509"), "issuer"), "common_name",
				r->cert_issuer);
	}
	if (r->client_ip || client_domain(r)) {
		o = child(e, "source");
		put_str(o, "ip", r->client_ip);
		put_str(o, "address", r->client_ip ? r->client_ip : client_domain(r));
		put_str(o, "domain", client_domain(r));
		if (r->client_port)
			put_int(o, "port", r->client_port);
		if (r->country)
			put_str(child(o, "geo"), "country_iso_code", r->country);
		if (r->asn)
			put_int(child(o, "as"), "number", r->asn);
		if (r->as_org)
			put_str(child(child(o, "as"), "organization"), "name", r->as_org);
	}
	if (r->auth_user)
		put_str(child(e, "user"), "name", r->auth_user);
	put_str(child(e, "network"), "protocol", "smtp");
	p = child(e, "postern");
	postern_facts(p, r);
	return e;
}

/* ---- OCSF -------------------------------------------------------------- */

/* ocsf_email_ok - does an address fit OCSF's email_t (its regex, in C)? */
static int ocsf_email_ok(const char *a)
{
	static const char local_extra[] = "!#$%&'*+,-./=?^_`{|}~";
	const char *at = strchr(a, '@'), *p, *dot = NULL;

	if (at == NULL || at == a || at[1] == '\0')
		return 0;
	for (p = a; p < at; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || strchr(local_extra, *p)))
			return 0;
	for (p = at + 1; *p; p++) {
		if (*p == '.') {
			if (dot == NULL && p == at + 1)
				return 0;	/* the first label must not be empty */
			if (dot == NULL)
				dot = p;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '-'))
			return 0;
	}
	return dot != NULL && dot[1] != '\0';
}

/* ocsf_addrs - addresses that fit email_t into o.key (one, or an array), the
 * others into misfits.key (NULL: dropped, kept elsewhere), so no address is
 * lost or typed wrongly */
static void ocsf_addrs(json_object *o, const char *key, json_object *list, int single,
		       json_object *misfits)
{
	json_object *fit = NULL, *bad = NULL;
	const char *a;
	size_t i;

	for (i = 0; i < count(list); i++) {
		if ((a = addr_at(list, i)) == NULL || *a == '\0')
			continue;
		if (ocsf_email_ok(a) && !(single && fit)) {
			if (single) {
				fit = json_object_new_string(a);
				continue;
			}
			if (fit == NULL)
				fit = json_object_new_array();
			json_object_array_add(fit, json_object_new_string(a));
		} else {
			if (bad == NULL)
				bad = json_object_new_array();
			json_object_array_add(bad, json_object_new_string(a));
		}
	}
	put_list(o, key, fit);
	if (misfits)
		put_list(misfits, key, bad);
	else if (bad)
		json_object_put(bad);	/* already kept under another key */
}

/* ocsf_one - a single address as a list of one, for ocsf_addrs */
static json_object *ocsf_one(const char *a)
{
	json_object *l = json_object_new_array();

	if (a && *a)
		json_object_array_add(l, json_object_new_string(a));
	return l;
}

/* ocsf_email - the email object of an Email Activity event */
static json_object *ocsf_email(const audit_siem_record *r, json_object *misfits)
{
	json_object *em = json_object_new_object(), *l, *files;
	size_t i;

	ocsf_addrs(em, "from", r->hdr_from, 1, misfits);
	if (count(r->hdr_from) > 1)
		ocsf_addrs(em, "from_list", r->hdr_from, 0, NULL);
	ocsf_addrs(em, "to", r->hdr_to, 0, misfits);
	ocsf_addrs(em, "cc", r->hdr_cc, 0, misfits);
	if ((l = blind_copies(r)) != NULL) {
		ocsf_addrs(em, "bcc", l, 0, misfits);
		json_object_put(l);
	}
	ocsf_addrs(em, "reply_to_list", r->hdr_reply_to, 0, misfits);
	if (r->has_envelope) {
		l = ocsf_one(r->env_from);
		ocsf_addrs(em, "smtp_from", l, 1, misfits);
		json_object_put(l);
		ocsf_addrs(em, "smtp_to", r->env_rcpt, 0, misfits);
	}
	put_str(em, "subject", r->subject);
	put_str(em, "message_uid", r->message_id);
	put_str(em, "uid", r->queue_id);
	if (r->has_size)
		put_int(em, "size", r->size);
	if (count(r->attachments)) {
		files = json_object_new_array();
		for (i = 0; i < count(r->attachments); i++) {
			json_object *a = json_object_array_get_idx(r->attachments, i);
			json_object *f = json_object_new_object(), *h, *hs;
			const char *name = jv_str(a, "filename");
			long long n;

			/* name is required: a part without one (or with the name
			 * redacted) gets an empty name rather than an invented one */
			put_str(f, "name", name ? name : "");
			put_int(f, "type_id", 1);
			put_str(f, "type", "Regular File");
			put_str(f, "mime_type", jv_str(a, "content_type"));
			if (num(a, "size", &n))
				put_int(f, "size", n);
			if (jv_str(a, "sha256")) {
				h = json_object_new_object();
				put_int(h, "algorithm_id", 3);
				put_str(h, "algorithm", "SHA-256");
				put_str(h, "value", jv_str(a, "sha256"));
				hs = json_object_new_array();
				json_object_array_add(hs, h);
				add(f, "hashes", hs);
			}
			json_object_array_add(files, f);
		}
		add(em, "files", files);
	}
	return em;
}

/* ocsf_endpoints - src_endpoint (the client) and dst_endpoint (the MTA) */
static void ocsf_endpoints(json_object *e, const audit_siem_record *r)
{
	json_object *src;

	if (r->client_ip || client_domain(r)) {
		src = child(e, "src_endpoint");
		put_str(src, "ip", r->client_ip);
		put_str(src, "hostname", client_domain(r));
		if (r->client_port)
			put_int(src, "port", r->client_port);
		if (r->country)
			put_str(child(src, "location"), "country", r->country);
		if (r->asn || r->as_org) {
			json_object *as = child(src, "autonomous_system");
			if (r->asn)
				put_int(as, "number", r->asn);
			put_str(as, "name", r->as_org);
		}
	}
	if (r->host)
		put_str(child(e, "dst_endpoint"), "hostname", r->host);
}

/* ocsf_unmapped_tls - the TLS facts: Email Activity has no place for them */
static void ocsf_unmapped_tls(json_object *u, const audit_siem_record *r)
{
	json_object *t;

	if (!r->has_tls)
		return;
	t = child(u, "tls");
	put_str(t, "version", r->tls_version);
	put_str(t, "cipher", r->tls_cipher);
	put_str(t, "cert_subject", r->cert_subject);
	put_str(t, "cert_issuer", r->cert_issuer);
}

/* ocsf_class - class, category, activity and type members */
static void ocsf_class(json_object *e, int class_uid, const char *class_name, int category_uid,
		       const char *category_name, int activity_id, const char *activity_name)
{
	char *type_name = pn_asprintf("%s: %s", class_name, activity_name);

	put_int(e, "class_uid", class_uid);
	put_str(e, "class_name", class_name);
	put_int(e, "category_uid", category_uid);
	put_str(e, "category_name", category_name);
	put_int(e, "activity_id", activity_id);
	put_str(e, "activity_name", activity_name);
	put_int(e, "type_uid", (long long)class_uid * 100 + activity_id);
	put_str(e, "type_name", type_name);
	pn_free(type_name);
}

/* ocsf_map - one record as an OCSF event */
static json_object *ocsf_map(const audit_siem_record *r)
{
	json_object *e = json_object_new_object(), *md, *prod, *u, *misfits;
	static const char *dir_names[] = {"Unknown", "Inbound", "Outbound"};
	static const char *details[] = {NULL, "message ended before its end of data (aborted)",
					"connection closed without a message", NULL, NULL};

	if (r->kind == AUDIT_SIEM_OTHER)
		ocsf_class(e, 0, "Base Event", 0, "Uncategorized", 99, "Other");
	else if (r->kind == AUDIT_SIEM_CONNECTION)
		ocsf_class(e, 4001, "Network Activity", 4, "Network Activity", 2, "Close");
	else
		ocsf_class(e, 4009, "Email Activity", 4, "Network Activity", 2, "Receive");
	put_int(e, "time", r->time_ms);
	put_int(e, "severity_id", 1);
	put_str(e, "severity", "Informational");
	md = child(e, "metadata");
	put_str(md, "version", AUDIT_SIEM_OCSF_VERSION);
	prod = child(md, "product");
	put_str(prod, "name", "Postern");
	put_str(prod, "vendor_name", "Postern");
	put_str(prod, "version", POSTERN_VERSION);
	put_str(md, "log_name", DATASET);
	if (r->has_seq)
		put_int(md, "sequence", r->seq);
	if (r->line_sha256[0])
		put_str(md, "uid", r->line_sha256);
	put_str(md, "original_time", r->ts);
	u = json_object_new_object();
	if (r->kind == AUDIT_SIEM_OTHER) {
		put_int(e, "status_id", 0);
		put_str(e, "status", "Unknown");
		put_copy(u, "record", r->rec);
		add(e, "unmapped", u);
		return e;
	}
	if (r->kind == AUDIT_SIEM_MESSAGE) {
		put_int(e, "status_id", 1);
		put_str(e, "status", "Success");
	} else {
		put_int(e, "status_id", 2);
		put_str(e, "status", "Failure");
		if (r->refusal) {
			char *why = refusal_words(r);
			put_str(e, "status_code", r->refusal_code);
			put_str(e, "status_detail", why);
			pn_free(why);
		} else {
			put_str(e, "status_detail", details[r->kind] ? details[r->kind]
				: "refused");
		}
	}
	ocsf_endpoints(e, r);
	if (r->kind != AUDIT_SIEM_CONNECTION) {
		misfits = json_object_new_object();
		put_int(e, "direction_id", (long long)r->direction);
		put_str(e, "direction", dir_names[r->direction]);
		put_str(e, "protocol_name", "SMTP");
		put_str(e, "smtp_hello", r->helo);
		add(e, "email", ocsf_email(r, misfits));
		if (r->has_envelope) {
			json_object *l = ocsf_one(r->env_from);
			ocsf_addrs(e, "from", l, 1, NULL);
			json_object_put(l);
			ocsf_addrs(e, "to", r->env_rcpt, 0, NULL);
		}
		if (json_object_object_length(misfits))
			add(u, "email", misfits);
		else
			json_object_put(misfits);
	} else {
		put_str(e, "app_name", "SMTP");
	}
	ocsf_unmapped_tls(u, r);
	postern_facts(u, r);
	if (r->auth_user)
		put_str(child(u, "auth"), "user", r->auth_user);
	add(e, "unmapped", u);
	return e;
}

/* ---- Splunk CIM -------------------------------------------------------- */

/* or_unknown - s, or CIM's "unknown" when there is none */
static const char *or_unknown(const char *s)
{
	return s && *s ? s : UNKNOWN;
}

/* domains - the distinct domains of a list of addresses, or NULL if none */
static json_object *domains(json_object *list)
{
	json_object *out = NULL;
	const char *a, *at;
	size_t i;

	for (i = 0; i < count(list); i++) {
		if ((a = addr_at(list, i)) == NULL || (at = strrchr(a, '@')) == NULL || !at[1]
		    || in_list(out, at + 1))
			continue;
		if (out == NULL)
			out = json_object_new_array();
		json_object_array_add(out, json_object_new_string(at + 1));
	}
	return out;
}

/* cim_files - file_name, file_size, file_hash: multivalue, one per attachment */
static void cim_files(json_object *e, const audit_siem_record *r)
{
	json_object *names = NULL, *sizes, *hashes;
	size_t i;

	if (!count(r->attachments))
		return;
	sizes = json_object_new_array();
	hashes = json_object_new_array();
	for (i = 0; i < count(r->attachments); i++) {
		json_object *a = json_object_array_get_idx(r->attachments, i);
		long long n;

		if (jv_str(a, "filename")) {
			if (names == NULL)
				names = json_object_new_array();
			json_object_array_add(names, json_object_new_string(jv_str(a, "filename")));
		}
		if (num(a, "size", &n))
			json_object_array_add(sizes, json_object_new_int64((int64_t)n));
		if (jv_str(a, "sha256"))
			json_object_array_add(hashes, json_object_new_string(jv_str(a, "sha256")));
	}
	put_list(e, "file_name", names);
	add(e, "file_size", sizes);
	add(e, "file_hash", hashes);
}

/* cim_map - one email or connection record as a CIM Email event; NULL for others */
static json_object *cim_map(const audit_siem_record *r)
{
	json_object *e, *l;
	const char *src_user = NULL, *return_addr = NULL;
	char *vp;

	if (r->kind == AUDIT_SIEM_OTHER)
		return NULL;
	e = json_object_new_object();
	put_str(e, "time", r->has_time ? r->ts : r->now);
	put_str(e, "action", r->kind == AUDIT_SIEM_MESSAGE ? "delivered" : "blocked");
	put_str(e, "dest", or_unknown(r->host));
	put_str(e, "internal_message_id", or_unknown(r->queue_id));
	put_str(e, "message_id", or_unknown(r->message_id));
	put_str(e, "protocol", "smtp");
	if ((l = addresses(r->env_rcpt)) != NULL)
		add(e, "recipient", l);
	else
		put_str(e, "recipient", UNKNOWN);
	put_int(e, "recipient_count", (long long)count(r->env_rcpt));
	if (r->has_envelope && r->env_from)
		return_addr = *r->env_from ? r->env_from : "<>";	/* the null sender */
	put_str(e, "return_addr", or_unknown(return_addr));
	if (count(r->hdr_from))
		src_user = addr_at(r->hdr_from, 0);
	if ((src_user == NULL || *src_user == '\0') && r->env_from && *r->env_from)
		src_user = r->env_from;
	put_str(e, "src", or_unknown(r->client_ip ? r->client_ip : r->client_name));
	put_str(e, "src_user", or_unknown(src_user));
	put_str(e, "user", or_unknown(r->auth_user));
	/* optional fields of the data model that Postern knows */
	put_list(e, "recipient_domain", domains(r->env_rcpt));
	if (src_user && strrchr(src_user, '@') && strrchr(src_user, '@')[1])
		put_str(e, "src_user_domain", strrchr(src_user, '@') + 1);
	put_str(e, "subject", r->subject);
	if (r->has_size)
		put_int(e, "size", r->size);
	if (r->has_duration) {
		/* seconds, printed exactly as the milliseconds say */
		char text[32];
		snprintf(text, sizeof(text), "%lld.%03lld", r->duration_ms / 1000,
			 r->duration_ms % 1000);
		add(e, "duration", json_object_new_double_s(
			(double)r->duration_ms / 1000.0, text));
	}
	cim_files(e, r);
	vp = pn_asprintf("Postern postern-audit %s", POSTERN_VERSION);
	put_str(e, "vendor_product", vp);
	pn_free(vp);
	/* Postern's own, prefixed so they never collide with the data model */
	put_str(e, "postern_event", r->kind_name);
	if (r->has_seq)
		put_int(e, "postern_seq", r->seq);
	if (r->line_sha256[0])
		put_str(e, "postern_record_sha256", r->line_sha256);
	put_str(e, "postern_sha256", r->sha256);
	put_str(e, "postern_client_name", client_domain(r));
	put_str(e, "postern_helo", r->helo);
	put_str(e, "postern_country", r->country);
	if (r->asn)
		put_int(e, "postern_asn", r->asn);
	put_str(e, "postern_tls_version", r->tls_version);
	put_str(e, "postern_tls_cipher", r->tls_cipher);
	if (r->tls_verified >= 0)
		add(e, "postern_tls_verified",
				       json_object_new_boolean(r->tls_verified));
	put_str(e, "postern_refused_by", r->refusal_by);
	put_str(e, "postern_refused_step", r->refusal_step);
	if (r->refusal) {
		char *why = refusal_words(r);
		put_str(e, "postern_reply", why);
		pn_free(why);
	}
	if (r->has_corrects)
		put_int(e, "postern_corrects_seq", r->corrects_seq);
	return e;
}

/* ---- entry points ------------------------------------------------------ */

/* audit_siem_map - the event of one format for a modelled record */
json_object *audit_siem_map(audit_siem_format fmt, const audit_siem_record *r)
{
	switch (fmt) {
	case AUDIT_SIEM_ECS:
		return ecs_map(r);
	case AUDIT_SIEM_OCSF:
		return ocsf_map(r);
	case AUDIT_SIEM_CIM:
		return cim_map(r);
	}
	return NULL;
}

/* audit_siem_write - model, map and append one event line to out */
int audit_siem_write(audit_siem_format fmt, json_object *rec, const char *line, size_t len,
		     pn_buf *out)
{
	audit_siem_record r;
	json_object *e;
	size_t n;
	const char *text;

	audit_siem_model(&r, rec, line, len);
	if ((e = audit_siem_map(fmt, &r)) == NULL)
		return 0;
	text = json_object_to_json_string_length(e, JSON_C_TO_STRING_PLAIN
						 | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	pn_buf_append(out, text, n);
	pn_buf_putc(out, '\n');
	json_object_put(e);
	return 1;
}

/* audit_siem_format_parse - "ecs", "ocsf" or "cim" as an export format */
int audit_siem_format_parse(const char *name, audit_format *fmt)
{
	if (strcmp(name, "ecs") == 0)
		*fmt = AUDIT_FMT_ECS;
	else if (strcmp(name, "ocsf") == 0)
		*fmt = AUDIT_FMT_OCSF;
	else if (strcmp(name, "cim") == 0)
		*fmt = AUDIT_FMT_CIM;
	else
		return -1;
	return 0;
}
