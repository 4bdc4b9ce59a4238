/* SPDX-License-Identifier: BSD-2-Clause */
/* chain - hash chain and MAC over record lines (see chain.h) */
#include "milters/audit/chain.h"
#include "common/alloc.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The mac member as written: ,"mac":"<64 hex>"} closes every keyed line. */
#define MAC_PREFIX ",\"mac\":\""
#define MAC_PREFIX_LEN 8
#define MAC_TAIL_LEN (MAC_PREFIX_LEN + PN_SHA256_HEX_LEN + 2)

/* audit_head_init - the head of an empty trail */
void audit_head_init(audit_head *h)
{
	h->seq = 0;
	memcpy(h->hash, AUDIT_ZERO_HASH, sizeof(h->hash));
}

/* audit_line_hash - SHA-256 of a line's bytes, as hex */
void audit_line_hash(const char *line, size_t len, char hex[PN_SHA256_HEX_LEN + 1])
{
	unsigned char d[PN_SHA256_LEN];

	pn_sha256_once(line, len, d);
	pn_hex(d, sizeof(d), hex);
}

/* mac_hex - HMAC-SHA256 of data as hex; -1 when OpenSSL fails */
static int mac_hex(const unsigned char *key, size_t keylen, const void *data, size_t len,
		   char hex[PN_SHA256_HEX_LEN + 1])
{
	unsigned char d[PN_SHA256_LEN];

	if (pn_hmac_sha256(key, keylen, data, len, d) < 0)
		return -1;
	pn_hex(d, sizeof(d), hex);
	return 0;
}

/* audit_chain_seal - record body to a chained (and MACed) line, no epoch */
int audit_chain_seal(pn_buf *line, const char *body, size_t len, const audit_head *prev,
		     const unsigned char *key, size_t keylen)
{
	return audit_chain_seal_epoch(line, body, len, prev, key, keylen, -1);
}

/* audit_chain_seal_epoch - the same, naming the sealing epoch when keyed */
int audit_chain_seal_epoch(pn_buf *line, const char *body, size_t len, const audit_head *prev,
			   const unsigned char *key, size_t keylen, long long epoch)
{
	char mac[PN_SHA256_HEX_LEN + 1];

	/* The body is a JSON object with at least one member: splice the
	 * chain members in around its members. */
	if (len < 3 || body[0] != '{' || body[len - 1] != '}')
		return -1;
	pn_buf_reset(line);
	if (pn_buf_printf(line, "{\"schema\":%d,\"seq\":%llu,", AUDIT_SCHEMA_VERSION,
			  prev->seq + 1) < 0
	    || pn_buf_append(line, body + 1, len - 2) < 0
	    || pn_buf_printf(line, ",\"prev\":\"%s\"}", prev->hash) < 0)
		return -1;
	if (key == NULL)
		return 0;
	if (epoch >= 0) {
		line->len--;	/* the epoch member is covered by the mac */
		if (pn_buf_printf(line, ",\"epoch\":%lld}", epoch) < 0)
			return -1;
	}
	if (mac_hex(key, keylen, pn_buf_str(line), pn_buf_len(line), mac) < 0)
		return -1;
	line->len--;	/* drop "}": the mac member goes last */
	if (pn_buf_printf(line, MAC_PREFIX "%s\"}", mac) < 0)
		return -1;
	return 0;
}

/* audit_chain_advance - the head after writing line as record seq */
void audit_chain_advance(audit_head *h, unsigned long long seq, const char *line, size_t len)
{
	h->seq = seq;
	audit_line_hash(line, len, h->hash);
}

/* is_hex64 - 64 lower-case hex digits */
static int is_hex64(const char *s, size_t len)
{
	size_t i;

	if (len != PN_SHA256_HEX_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* hex_member - copy a 64-hex string member; 1 found, 0 absent, -1 malformed */
static int hex_member(json_object *o, const char *name, char out[PN_SHA256_HEX_LEN + 1])
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (!is_hex64(s, (size_t)json_object_get_string_len(v)))
		return -1;
	memcpy(out, s, PN_SHA256_HEX_LEN + 1);
	return 1;
}

/* audit_chain_parse - read the chain members of a record line */
int audit_chain_parse(const char *line, size_t len, audit_link *out, char **err)
{
	json_tokener *tok;
	json_object *o, *v;
	int64_t seq;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (len == 0 || line[0] != '{' || line[len - 1] != '}') {
		*err = pn_strdup(len == 0 ? "empty line" : "not a JSON object on one line");
		return -1;
	}
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o == NULL || json_tokener_get_parse_end(tok) != len) {
		*err = pn_asprintf("not valid JSON (%s)",
				   json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		*err = pn_strdup("not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(o, "seq", &v) || !json_object_is_type(v, json_type_int)
	    || (seq = json_object_get_int64(v)) < 1) {
		*err = pn_strdup("no valid \"seq\" member");
		goto out;
	}
	out->seq = (unsigned long long)seq;
	if (hex_member(o, "prev", out->prev) != 1) {
		*err = pn_strdup("no valid \"prev\" member");
		goto out;
	}
	switch (hex_member(o, "mac", out->mac)) {
	case -1:
		*err = pn_strdup("malformed \"mac\" member");
		goto out;
	case 1:
		/* The MAC covers the bytes before it, so it must close the line. */
		if (len < MAC_TAIL_LEN + 1
		    || memcmp(line + len - MAC_TAIL_LEN, MAC_PREFIX, MAC_PREFIX_LEN) != 0
		    || memcmp(line + len - MAC_TAIL_LEN + MAC_PREFIX_LEN, out->mac,
			      PN_SHA256_HEX_LEN) != 0) {
			*err = pn_strdup("\"mac\" is not the last member");
			goto out;
		}
		out->has_mac = 1;
		break;
	}
	if (json_object_object_get_ex(o, "epoch", &v)) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
			*err = pn_strdup("malformed \"epoch\" member");
			goto out;
		}
		out->epoch = (unsigned long long)json_object_get_int64(v);
		out->has_epoch = 1;
	}
	if (json_object_object_get_ex(o, "event", &v) && json_object_is_type(v, json_type_string))
		snprintf(out->event, sizeof(out->event), "%s", json_object_get_string(v));
	audit_line_hash(line, len, out->hash);
	rc = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

/* audit_chain_mac_ok - recompute the MAC of a parsed line */
int audit_chain_mac_ok(const char *line, size_t len, const audit_link *l,
		       const unsigned char *key, size_t keylen)
{
	char want[PN_SHA256_HEX_LEN + 1];
	char *covered;
	size_t n;
	int ok;

	if (!l->has_mac || len < MAC_TAIL_LEN + 1)
		return 0;
	n = len - MAC_TAIL_LEN;
	covered = pn_malloc(n + 1);
	memcpy(covered, line, n);
	covered[n] = '}';
	ok = mac_hex(key, keylen, covered, n + 1, want) == 0
	     && pn_ct_equal(want, l->mac, PN_SHA256_HEX_LEN);
	pn_free(covered);
	return ok;
}

/* audit_head_parse - "SEQ:HEX" as printed by the checkpoint command */
int audit_head_parse(const char *text, audit_head *h)
{
	char *end;
	unsigned long long seq;
	size_t n;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	seq = strtoull(text, &end, 10);
	if (errno || *end != ':')
		return -1;
	end++;
	n = strlen(end);
	while (n > 0 && (end[n - 1] == '\n' || end[n - 1] == ' '))
		n--;
	if (!is_hex64(end, n))
		return -1;
	h->seq = seq;
	memcpy(h->hash, end, PN_SHA256_HEX_LEN);
	h->hash[PN_SHA256_HEX_LEN] = '\0';
	return 0;
}
