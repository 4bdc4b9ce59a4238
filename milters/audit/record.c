/* SPDX-License-Identifier: BSD-2-Clause */
/* record - JSON audit record of a message or a connection (see record.h) */
#include "milters/audit/record.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/header_text.h"
#include "common/mime.h"
#include "common/rfc2047.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Mailboxes kept per address header: beyond this the list is cut. */
#define MAX_ADDRS 1000
#define BODY_CHUNK 65536
/* MIME parts described per record: a message of thousands of parts must
 * not make a huge record (about 150 bytes a part); beyond this only the
 * count is given. */
#define MAX_RECORD_PARTS 100

/* Headers every record describes, in output order. */
enum { H_MESSAGE_ID, H_DATE, H_FROM, H_TO, H_CC, H_REPLY_TO, H_SUBJECT, H_IN_REPLY_TO,
       H_LIST_ID, H_COUNT };

typedef struct known_header {
	const char *name;	/* as in mail */
	const char *key;	/* JSON member */
	int kind;		/* K_* */
	unsigned redact;	/* AUDIT_REDACT_* that removes it */
} known_header;

enum { K_ID, K_TEXT, K_ADDR };

static const known_header known[H_COUNT] = {
	{"Message-ID", "message_id", K_ID, AUDIT_REDACT_MESSAGE_ID},
	{"Date", "date", K_ID, 0},
	{"From", "from", K_ADDR, 0},
	{"To", "to", K_ADDR, 0},
	{"Cc", "cc", K_ADDR, 0},
	{"Reply-To", "reply_to", K_ADDR, 0},
	{"Subject", "subject", K_TEXT, AUDIT_REDACT_SUBJECT},
	{"In-Reply-To", "in_reply_to", K_ID, AUDIT_REDACT_MESSAGE_ID},
	{"List-Id", "list_id", K_TEXT, 0},
};

/* audit_event_name - the event member's value */
const char *audit_event_name(audit_event ev)
{
	switch (ev) {
	case AUDIT_EV_MESSAGE: return "message";
	case AUDIT_EV_ABORTED: return "aborted";
	case AUDIT_EV_CONNECTION: return "connection";
	case AUDIT_EV_REFUSED: return "refused";
	case AUDIT_EV_OUTCOME: return "outcome";
	}
	return "message";
}

/* jstr - JSON string of arbitrary bytes, made valid UTF-8 */
static json_object *jstr(const char *s, size_t len)
{
	json_object *o;
	char *clean;

	if (pn_utf8_valid(s, len))
		return json_object_new_string_len(s, (int)len);
	clean = pn_utf8_sanitize(s, len);
	o = json_object_new_string(clean);
	pn_free(clean);
	return o;
}

/* add_str - member from a C string, unless NULL */
static void add_str(json_object *o, const char *key, const char *s)
{
	if (s)
		json_object_object_add(o, key, jstr(s, strlen(s)));
}

/* add_owned - member from a pn_malloc'd string, which is freed */
static void add_owned(json_object *o, const char *key, char *s)
{
	add_str(o, key, s);
	pn_free(s);
}

/* clean_value - a header value as the record (and the archive's index) shows it */
static char *clean_value(const char *value, int kind)
{
	return pn_header_display(value, strlen(value), kind == K_ID ? PN_HEADER_ID : PN_HEADER_TEXT);
}

/* audit_pseudonym - keyed pseudonym of an address's local part */
char *audit_pseudonym(const audit_state *st, const char *address)
{
	const char *at = strrchr(address, '@');
	size_t n = at ? (size_t)(at - address) : strlen(address), i;
	unsigned char d[PN_SHA256_LEN];
	char hex[PN_SHA256_HEX_LEN + 1];
	char *local;

	if (*address == '\0' || st->pseudo_key == NULL)
		return pn_strdup(address);
	local = pn_memdup0(address, n);
	/* Lower case, so that Alice@ and alice@ join as mail systems treat them. */
	for (i = 0; i < n; i++)
		if (local[i] >= 'A' && local[i] <= 'Z')
			local[i] = (char)(local[i] - 'A' + 'a');
	if (pn_hmac_sha256(st->pseudo_key, st->pseudo_keylen, local, n, d) < 0)
		memset(d, 0, sizeof(d));
	pn_free(local);
	pn_hex(d, sizeof(d), hex);
	hex[16] = '\0';
	return at ? pn_asprintf("anon-%s%s", hex, at) : pn_asprintf("anon-%s", hex);
}

/* show_addr - an address as the record shows it (pseudonymised if asked) */
static char *show_addr(const audit_state *st, const char *address)
{
	return st->pseudonymize ? audit_pseudonym(st, address) : pn_strdup(address);
}

/* envelope_addr - "<a@b>" from the MTA to the bare address */
static char *envelope_addr(const char *given)
{
	pn_addr a;
	char *out;
	size_t n;

	if (pn_addr_parse_path(given, &a, NULL) == 0) {
		out = pn_strdup(a.address);
		pn_addr_clear(&a);
		return out;
	}
	/* Postfix accepted it, so keep what it said, minus the brackets. */
	n = strlen(given);
	if (n >= 2 && given[0] == '<' && given[n - 1] == '>')
		return pn_memdup0(given + 1, n - 2);
	return pn_strdup(given);
}

/* iso_time - RFC 3339 UTC with milliseconds */
static char *iso_time(const struct timespec *t)
{
	struct tm tm;
	char date[32];

	gmtime_r(&t->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	return pn_asprintf("%s.%03ldZ", date, t->tv_nsec / 1000000);
}

/* ms_between - milliseconds from a to b, never negative */
static long long ms_between(const struct timespec *a, const struct timespec *b)
{
	long long ms = (long long)(b->tv_sec - a->tv_sec) * 1000
		       + (b->tv_nsec - a->tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

/* client_obj - who connected, from where */
static json_object *client_obj(const audit_state *st, const pn_conn *c)
{
	json_object *o = json_object_new_object();

	add_str(o, "ip", c->client_addr);
	if (c->client_port)
		json_object_object_add(o, "port", json_object_new_int64(c->client_port));
	if (!(st->redact & AUDIT_REDACT_CLIENT_NAME))
		add_str(o, "name", c->client_name);
	if (!(st->redact & AUDIT_REDACT_HELO))
		add_str(o, "helo", c->helo);
	if (st->geoip && c->client_addr) {
		pn_geo g;
		char *err = NULL;
		if (pn_geoip_lookup(st->geoip, c->client_addr, &g, &err) == 1) {
			json_object *geo = json_object_new_object();
			if (g.country[0])
				add_str(geo, "country", g.country);
			if (g.asn)
				json_object_object_add(geo, "asn", json_object_new_int64((int64_t)g.asn));
			add_str(geo, "as_org", g.as_org);
			json_object_object_add(o, "geo", geo);
		}
		pn_geo_clear(&g);
		pn_free(err);	/* an unparsable client address simply has no geo */
	}
	return o;
}

/* tls_obj - the TLS facts the MTA reported, or NULL for plaintext */
static json_object *tls_obj(const audit_state *st, const pn_conn *c)
{
	const char *version = pn_conn_macro(c, "{tls_version}");
	const char *bits = pn_conn_macro(c, "{cipher_bits}");
	const char *subject = pn_conn_macro(c, "{cert_subject}");
	json_object *o;
	char *end;
	long b;

	if (version == NULL)
		return NULL;
	o = json_object_new_object();
	add_str(o, "version", version);
	add_str(o, "cipher", pn_conn_macro(c, "{cipher}"));
	if (bits) {
		b = strtol(bits, &end, 10);
		if (*bits && *end == '\0' && b >= 0)
			json_object_object_add(o, "bits", json_object_new_int64(b));
	}
	if (!(st->redact & AUDIT_REDACT_CERT)) {
		const char *issuer = pn_conn_macro(c, "{cert_issuer}");
		/* Sendmail sends empty values when there is no certificate */
		if (subject && *subject)
			add_str(o, "cert_subject", subject);
		if (issuer && *issuer)
			add_str(o, "cert_issuer", issuer);
	}
	json_object_object_add(o, "verified", json_object_new_boolean(pn_conn_cert_verified(c)));
	return o;
}

/* auth_user - the SASL login as the record shows it */
static char *auth_user(const audit_state *st, const char *user)
{
	return st->pseudonymize ? audit_pseudonym(st, user) : pn_strdup(user);
}

/* auth_obj - SMTP AUTH facts, or NULL */
static json_object *auth_obj(const audit_state *st, const pn_conn *c)
{
	const char *type = pn_conn_macro(c, "{auth_type}");
	const char *user = pn_conn_macro(c, "{auth_authen}");
	const char *author = pn_conn_macro(c, "{auth_author}");
	json_object *o;

	if (type == NULL && user == NULL)
		return NULL;
	o = json_object_new_object();
	add_str(o, "type", type);
	if (!(st->redact & AUDIT_REDACT_AUTH_USER)) {
		if (user)
			add_owned(o, "user", auth_user(st, user));
		if (author)
			add_owned(o, "author", auth_user(st, author));
	}
	return o;
}

/* esmtp_arg - value of KEY=VALUE among the ESMTP arguments; "" for a bare KEY */
static const char *esmtp_arg(char **args, const char *key)
{
	size_t n = strlen(key), i;

	for (i = 0; args && args[i]; i++) {
		if (strncasecmp(args[i], key, n) != 0)
			continue;
		if (args[i][n] == '=')
			return args[i] + n + 1;
		if (args[i][n] == '\0')
			return "";
	}
	return NULL;
}

/* envelope_obj - MAIL FROM, RCPT TO (only that one, when given) and the ESMTP facts */
static json_object *envelope_obj(const audit_state *st, const pn_msg *m, const pn_rcpt *only)
{
	json_object *o = json_object_new_object(), *rcpt = json_object_new_array();
	const char *size, *body;
	char *addr, *end;
	size_t i;

	addr = envelope_addr(m->sender ? m->sender : "<>");
	add_owned(o, "from", show_addr(st, addr));
	pn_free(addr);
	for (i = 0; i < (only ? 1 : m->nrcpts); i++) {
		addr = envelope_addr(only ? only->addr : m->rcpts[i].addr);
		char *shown = show_addr(st, addr);
		json_object_array_add(rcpt, jstr(shown, strlen(shown)));
		pn_free(shown);
		pn_free(addr);
	}
	json_object_object_add(o, "rcpt", rcpt);
	if ((size = esmtp_arg(m->sender_args, "SIZE")) != NULL && *size) {
		unsigned long long v;
		errno = 0;
		v = strtoull(size, &end, 10);
		if (!errno && *end == '\0' && size[0] != '-')
			json_object_object_add(o, "size", json_object_new_int64((int64_t)v));
	}
	if ((body = esmtp_arg(m->sender_args, "BODY")) != NULL && *body) {
		char *up = pn_strdup(body);
		for (i = 0; up[i]; i++)
			if (up[i] >= 'a' && up[i] <= 'z')
				up[i] = (char)(up[i] - 'a' + 'A');
		add_owned(o, "body", up);
	}
	if (esmtp_arg(m->sender_args, "SMTPUTF8"))
		json_object_object_add(o, "smtputf8", json_object_new_boolean(1));
	return o;
}

/* addr_items - mailboxes of one address header appended to arr; 1 if cut */
static int addr_items(const audit_state *st, json_object *arr, const char *value, int *errors)
{
	pn_addr_list *l = pn_addr_parse_list(value, MAX_ADDRS);
	int names = !(st->redact & AUDIT_REDACT_DISPLAY_NAMES) && !st->pseudonymize;
	int truncated = l->truncated;
	size_t i, j;

	for (i = 0; i < l->count; i++) {
		json_object *it = json_object_new_object();
		add_owned(it, "addr", show_addr(st, l->items[i].address));
		if (names && l->items[i].display)
			add_owned(it, "name", clean_value(l->items[i].display, K_TEXT));
		if (l->items[i].group)
			add_owned(it, "group", clean_value(l->items[i].group, K_TEXT));
		json_object_array_add(arr, it);
	}
	/* An empty group ("undisclosed-recipients:;") is still worth showing. */
	for (j = 0; j < l->group_count; j++) {
		int used = 0;
		for (i = 0; i < l->count && !used; i++)
			used = l->items[i].group && strcmp(l->items[i].group, l->groups[j]) == 0;
		if (!used) {
			json_object *it = json_object_new_object();
			add_owned(it, "group", clean_value(l->groups[j], K_TEXT));
			json_object_array_add(arr, it);
		}
	}
	*errors += (int)l->errors;
	pn_addr_list_free(l);
	return truncated;
}

/* is_extra - index of name in the configured extra headers, or -1 */
static int is_extra(const audit_state *st, const char *name)
{
	int i;

	for (i = 0; st->extra_headers && st->extra_headers[i]; i++)
		if (strcasecmp(st->extra_headers[i], name) == 0)
			return i;
	return -1;
}

/* headers_obj - the headers an auditor asks about */
static json_object *headers_obj(const audit_state *st, const pn_msg *m)
{
	json_object *o = json_object_new_object(), *dups = NULL, *unparsed = NULL, *extra = NULL;
	json_object *lists[H_COUNT] = {0};
	const char *first[H_COUNT] = {0};
	int errors[H_COUNT] = {0}, truncated = 0, i;
	/* Address-header text would show what pseudonyms and redaction hide. */
	int addr_text = !st->pseudonymize && !(st->redact & AUDIT_REDACT_DISPLAY_NAMES);
	size_t n;

	for (n = 0; n < m->nheaders; n++) {
		const pn_header *h = &m->headers[n];
		for (i = 0; i < H_COUNT; i++)
			if (strcasecmp(h->name, known[i].name) == 0)
				break;
		if (i == H_COUNT || (known[i].redact & st->redact))
			continue;
		if (known[i].kind == K_ADDR) {
			if (lists[i] == NULL)
				lists[i] = json_object_new_array();
			truncated |= addr_items(st, lists[i], h->value, &errors[i]);
			if (first[i] == NULL) {
				first[i] = h->value;
				continue;
			}
			if (!addr_text)
				continue;
		} else if (first[i] == NULL) {
			first[i] = h->value;
			continue;
		}
		/* A later occurrence: keep its text, a reader may show it instead. */
		if (dups == NULL)
			dups = json_object_new_object();
		json_object *arr;
		if (!json_object_object_get_ex(dups, known[i].key, &arr)) {
			arr = json_object_new_array();
			json_object_object_add(dups, known[i].key, arr);
		}
		char *v = clean_value(h->value, known[i].kind == K_ADDR ? K_TEXT : known[i].kind);
		json_object_array_add(arr, jstr(v, strlen(v)));
		pn_free(v);
	}
	for (i = 0; i < H_COUNT; i++) {
		if (known[i].kind == K_ADDR) {
			if (lists[i])
				json_object_object_add(o, known[i].key, lists[i]);
			if (errors[i] && addr_text) {
				if (unparsed == NULL)
					unparsed = json_object_new_object();
				add_owned(unparsed, known[i].key, clean_value(first[i], K_TEXT));
			}
		} else if (first[i]) {
			add_owned(o, known[i].key, clean_value(first[i], known[i].kind));
		}
	}
	if (dups)
		json_object_object_add(o, "duplicates", dups);
	if (unparsed)
		json_object_object_add(o, "unparsed", unparsed);
	if (truncated)
		json_object_object_add(o, "truncated", json_object_new_boolean(1));
	if (!(st->redact & AUDIT_REDACT_EXTRA_HEADERS)) {
		for (n = 0; n < m->nheaders; n++) {
			json_object *arr;
			int k = is_extra(st, m->headers[n].name);
			if (k < 0)
				continue;
			if (extra == NULL)
				extra = json_object_new_object();
			/* Keyed by the configured spelling, so exports need not guess case. */
			if (!json_object_object_get_ex(extra, st->extra_headers[k], &arr)) {
				arr = json_object_new_array();
				json_object_object_add(extra, st->extra_headers[k], arr);
			}
			char *v = clean_value(m->headers[n].value, K_TEXT);
			json_object_array_add(arr, jstr(v, strlen(v)));
			pn_free(v);
		}
		if (extra)
			json_object_object_add(o, "extra", extra);
	}
	return o;
}

/* digest_and_walk - SHA-256 of the message as received, and its MIME parts */
static int digest_and_walk(pn_msg *m, char hex[PN_SHA256_HEX_LEN + 1], pn_mime *mime,
			   char **err)
{
	unsigned char d[PN_SHA256_LEN];
	pn_sha256 *h = pn_sha256_new();
	char *chunk;
	pn_buf hb;
	long n;
	size_t i;

	pn_buf_init(&hb, 0);
	if (pn_msg_write_headers(m, &hb) < 0) {
		*err = pn_strdup("header block too large");
		pn_buf_free(&hb);
		pn_sha256_free(h);
		return -1;
	}
	pn_sha256_update(h, pn_buf_str(&hb), pn_buf_len(&hb));
	pn_buf_free(&hb);
	for (i = 0; i < m->nheaders; i++)
		pn_mime_header(mime, m->headers[i].name, m->headers[i].value);
	if (pn_spool_rewind(m->body) < 0) {
		*err = pn_asprintf("cannot read the spooled body: %s", strerror(errno));
		pn_sha256_free(h);
		return -1;
	}
	chunk = pn_malloc(BODY_CHUNK);
	while ((n = pn_spool_read(m->body, chunk, BODY_CHUNK)) > 0) {
		pn_sha256_update(h, chunk, (size_t)n);
		pn_mime_body(mime, chunk, (size_t)n);
	}
	pn_free(chunk);
	pn_mime_finish(mime);
	pn_sha256_final(h, d);
	pn_sha256_free(h);
	if (n < 0) {
		*err = pn_asprintf("cannot read the spooled body: %s", strerror(errno));
		return -1;
	}
	pn_hex(d, sizeof(d), hex);
	return 0;
}

/* attachments_obj - every attachment part */
static json_object *attachments_obj(const audit_state *st, const pn_mime *mime)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < pn_mime_part_count(mime); i++) {
		const pn_mime_part *p = pn_mime_part_get(mime, i);
		json_object *a;
		if (!p->is_attachment)
			continue;
		a = json_object_new_object();
		if (!(st->redact & AUDIT_REDACT_ATTACHMENT_NAMES))
			add_str(a, "filename", p->filename);
		add_str(a, "content_type", p->content_type);
		json_object_object_add(a, "size", json_object_new_int64((int64_t)p->size));
		add_str(a, "sha256", p->sha256);
		json_object_array_add(arr, a);
	}
	return arr;
}

/* mime_obj - the MIME tree: every part the walk listed, in document order */
static json_object *mime_obj(const pn_mime *mime)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	size_t i, n = pn_mime_part_count(mime);

	for (i = 0; i < n && i < MAX_RECORD_PARTS; i++) {
		const pn_mime_part *p = pn_mime_part_get(mime, i);
		json_object *a = json_object_new_object();
		json_object_object_add(a, "index", json_object_new_int64((int64_t)i));
		json_object_object_add(a, "depth", json_object_new_int64(p->depth));
		add_str(a, "content_type", p->content_type);
		add_str(a, "disposition", p->disposition);
		add_str(a, "encoding", p->encoding);
		json_object_object_add(a, "raw_size", json_object_new_int64((int64_t)p->raw_size));
		json_object_object_add(a, "size", json_object_new_int64((int64_t)p->size));
		if (p->is_container)
			json_object_object_add(a, "container", json_object_new_boolean(1));
		json_object_array_add(arr, a);
	}
	json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "parts", arr);
	/* the list is cut here, or the walk itself stopped at one of its limits */
	if (n > MAX_RECORD_PARTS || pn_mime_truncated(mime))
		json_object_object_add(o, "truncated", json_object_new_boolean(1));
	return o;
}

/* privacy_obj - what this record leaves out or disguises, or NULL */
static json_object *privacy_obj(const audit_state *st)
{
	json_object *o, *r;
	unsigned bit;

	if (!st->redact && !st->pseudonymize)
		return NULL;
	o = json_object_new_object();
	if (st->redact) {
		r = json_object_new_array();
		for (bit = 1; bit <= AUDIT_REDACT_ALL; bit <<= 1)
			if (st->redact & bit)
				json_object_array_add(r, json_object_new_string(audit_redact_name(bit)));
		json_object_object_add(o, "redacted", r);
	}
	if (st->pseudonymize)
		json_object_object_add(o, "pseudonymized", json_object_new_boolean(1));
	return o;
}

/* cut - s at most AUDIT_MAX_NOTE_BYTES long (never inside a UTF-8 sequence), new */
static char *cut(const char *s)
{
	size_t n = strlen(s);

	if (n <= AUDIT_MAX_NOTE_BYTES)
		return pn_strdup(s);
	n = AUDIT_MAX_NOTE_BYTES;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return pn_memdup0(s, n);
}

/* note_value - a note as the record shows it: cut, and its addresses
 * pseudonymised when the record's addresses are */
static char *note_value(const audit_state *st, const char *value)
{
	char *v = cut(value), *word, *save = NULL;
	pn_buf out;

	if (!st->pseudonymize || strchr(v, '@') == NULL)
		return v;
	pn_buf_init(&out, 0);
	for (word = strtok_r(v, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		if (pn_buf_len(&out))
			pn_buf_putc(&out, ' ');
		if (strchr(word, '@')) {
			/* <addr>, addr: and the like: the address between the marks */
			size_t lead = strspn(word, "<("), end = strlen(word);
			char *bare, *p;
			while (end > lead && strchr(">),;:", word[end - 1]))
				end--;
			bare = pn_memdup0(word + lead, end - lead);
			p = audit_pseudonym(st, bare);
			pn_buf_append(&out, word, lead);
			pn_buf_puts(&out, p);
			pn_buf_puts(&out, word + end);
			pn_free(p);
			pn_free(bare);
		} else {
			pn_buf_puts(&out, word);
		}
	}
	pn_free(v);
	v = pn_strdup(pn_buf_str(&out));
	pn_buf_free(&out);
	return v;
}

/* engines_obj - the notes of every engine, {engine: {key: value}}, or NULL */
static json_object *engines_obj(const audit_state *st, const pn_msg *m)
{
	json_object *o, *e;
	size_t i;

	if (m == NULL || m->nnotes == 0)
		return NULL;
	o = json_object_new_object();
	for (i = 0; i < m->nnotes && i < AUDIT_MAX_NOTES; i++) {
		const pn_note *n = &m->notes[i];
		char *engine = cut(n->engine), *key = cut(n->key);
		json_object *name;

		/* member names are JSON strings too: made valid UTF-8 */
		name = jstr(engine, strlen(engine));
		if (!json_object_object_get_ex(o, json_object_get_string(name), &e)) {
			e = json_object_new_object();
			json_object_object_add(o, json_object_get_string(name), e);
		}
		json_object_put(name);
		name = jstr(key, strlen(key));
		add_owned(e, json_object_get_string(name), note_value(st, n->value));
		json_object_put(name);
		pn_free(engine);
		pn_free(key);
	}
	return o;
}

/* audit_step_name - a protocol step as records name it */
const char *audit_step_name(unsigned step)
{
	switch (step) {
	case PN_STEP_CONNECT: return "connect";
	case PN_STEP_HELO: return "helo";
	case PN_STEP_MAIL: return "mail";
	case PN_STEP_RCPT: return "rcpt";
	case PN_STEP_DATA: return "data";
	case PN_STEP_HEADER: return "header";
	case PN_STEP_EOH: return "eoh";
	case PN_STEP_BODY: return "body";
	case PN_STEP_EOM: return "eom";
	}
	return "unknown";
}

/* refusal_obj - what the MTA was told, by whom, and why */
static json_object *refusal_obj(const pn_msg *m, const pn_outcome *o)
{
	json_object *r = json_object_new_object();
	const char *reason = m && o->by ? pn_msg_note_get(m, o->by, "reason") : NULL;

	add_str(r, "step", audit_step_name(o->step));
	add_str(r, "verdict", pn_verdict_name(o->verdict));
	add_str(r, "by", o->by ? o->by : "milter");
	add_str(r, "code", o->rcode);
	add_str(r, "xcode", o->xcode);
	if (o->text)
		add_owned(r, "text", cut(o->text));
	if (reason)
		add_owned(r, "reason", cut(reason));
	return r;
}

/* host_of - the MTA's name for the record */
static const char *host_of(const audit_state *st, const pn_conn *c, const audit_env *env)
{
	const char *j;

	if (env && env->host)
		return env->host;
	if (st->host_name && *st->host_name)
		return st->host_name;
	if ((j = pn_conn_macro(c, "j")) != NULL)
		return j;
	return "unknown";
}

/* add_obj - member unless NULL */
static void add_obj(json_object *o, const char *key, json_object *v)
{
	if (v)
		json_object_object_add(o, key, v);
}

/* build - the record body for one event; o and corrects for refused/outcome */
static char *build(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
		   const audit_env *env, const pn_outcome *o, unsigned long long corrects,
		   size_t *len, char **err)
{
	json_object *rec = json_object_new_object();
	const char *qid = env->queue_id ? env->queue_id : (m ? m->queue_id : NULL);
	const struct timespec *since = m && ev != AUDIT_EV_CONNECTION ? &m->started : &c->started;
	const char *text;
	char *out = NULL;
	size_t n;

	*err = NULL;
	if (qid == NULL && ev != AUDIT_EV_CONNECTION)
		qid = pn_conn_macro(c, "i");
	add_owned(rec, "ts", iso_time(&env->now));
	add_str(rec, "host", host_of(st, c, env));
	add_str(rec, "event", audit_event_name(ev));
	add_str(rec, "queue_id", qid);
	json_object_object_add(rec, "duration_ms",
			       json_object_new_int64(ms_between(since, &env->now)));
	add_obj(rec, "client", client_obj(st, c));
	add_obj(rec, "tls", tls_obj(st, c));
	add_obj(rec, "auth", auth_obj(st, c));
	if (m && (ev == AUDIT_EV_MESSAGE || ev == AUDIT_EV_ABORTED)) {
		add_obj(rec, "envelope", envelope_obj(st, m, NULL));
		add_obj(rec, "headers", headers_obj(st, m));
		json_object_object_add(rec, "size", json_object_new_int64((int64_t)pn_msg_size(m)));
	} else if (m && (ev == AUDIT_EV_REFUSED || ev == AUDIT_EV_OUTCOME)) {
		add_obj(rec, "envelope",
			envelope_obj(st, m, o && o->step == PN_STEP_RCPT ? o->rcpt : NULL));
		/* the headers only once they came: a refusal at MAIL has none */
		if (m->nheaders) {
			add_obj(rec, "headers", headers_obj(st, m));
			json_object_object_add(rec, "size",
					       json_object_new_int64((int64_t)pn_msg_size(m)));
		}
	}
	if (m && ev == AUDIT_EV_MESSAGE) {
		char hex[PN_SHA256_HEX_LEN + 1];
		pn_mime *mime = pn_mime_new(NULL);
		if (digest_and_walk(m, hex, mime, err) < 0) {
			pn_mime_free(mime);
			json_object_put(rec);
			return NULL;
		}
		add_str(rec, "sha256", hex);
		json_object_object_add(rec, "attachments", attachments_obj(st, mime));
		if (pn_mime_truncated(mime))
			json_object_object_add(rec, "attachments_truncated",
					       json_object_new_boolean(1));
		json_object_object_add(rec, "mime", mime_obj(mime));
		pn_mime_free(mime);
	}
	if (ev != AUDIT_EV_CONNECTION)
		add_obj(rec, "engines", engines_obj(st, m));
	if (o && (ev == AUDIT_EV_REFUSED || ev == AUDIT_EV_OUTCOME))
		add_obj(rec, "refusal", refusal_obj(m, o));
	if (ev == AUDIT_EV_OUTCOME && corrects)
		json_object_object_add(rec, "corrects_seq",
				       json_object_new_int64((int64_t)corrects));
	add_obj(rec, "privacy", privacy_obj(st));
	text = json_object_to_json_string_length(rec, JSON_C_TO_STRING_PLAIN
						 | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	out = pn_memdup0(text, n);
	*len = n;
	json_object_put(rec);
	return out;
}

/* audit_record_build - the record body for one event */
char *audit_record_build(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
			 const audit_env *env, size_t *len, char **err)
{
	return build(st, c, m, ev, env, NULL, 0, len, err);
}

/* audit_record_build_outcome - the record of a refused attempt or a changed outcome */
char *audit_record_build_outcome(const audit_state *st, pn_conn *c, pn_msg *m, audit_event ev,
				 const audit_env *env, const pn_outcome *o,
				 unsigned long long corrects, size_t *len, char **err)
{
	return build(st, c, m, ev, env, o, corrects, len, err);
}
