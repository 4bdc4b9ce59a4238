/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_audit_record - postern-audit's record builder on any message: the
 * headers (encoded words, address lists, 8-bit bytes) and the MIME body
 * that become a record. Whatever the input: no crash, no leak, and the
 * record is one line of valid UTF-8 JSON that seals into a chain line
 * verify accepts. The first input byte picks privacy options. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "common/addr.h"
#include "common/buf.h"
#include "common/cidr.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/geoip.h"
#include "common/log.h"
#include "common/mime.h"
#include "common/milter/engine.h"
#include "common/rfc2047.h"
#include "common/spool.h"
#include "common/milter/engine.h"
#include "common/rfc2047.h"
#include "milters/audit/chain.h"
#include "milters/audit/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *extra[] = {"X-Spam-Score", "Received", NULL};
	static unsigned char key[] = "fuzz-pseudonym-key-0123456789";
	audit_state st;
	pn_snapshot snap;
	pn_conn *c;
	audit_env env = {{1714564803, 250000000}, "mx.fuzz", "4FuZz"};
	audit_event ev;
	char *rec, *err = NULL;
	size_t len;
	unsigned flags = size ? data[0] : 0;

	memset(&st, 0, sizeof(st));
	st.extra_headers = extra;
	st.redact = (flags & 1) ? AUDIT_REDACT_ALL : 0;
	st.pseudonymize = (flags & 2) != 0;
	st.pseudo_key = key;
	st.pseudo_keylen = sizeof(key) - 1;
	memset(&snap, 0, sizeof(snap));
	snap.state = &st;
	c = pn_conn_new(&snap);
	c->client_addr = pn_strdup("192.0.2.1");
	c->client_name = pn_strdup("fuzz.example");
	c->helo = pn_memdup0(data, size < 16 ? size : 16);	/* 8-bit HELO too */
	pn_conn_set_macro(c, "{tls_version}", "TLSv1.3");
	pn_conn_set_macro(c, "{cipher_bits}", (flags & 4) ? "256" : "x");
	c->msg = pn_msg_load(data, size, 4096, "/tmp");
	pn_msg_set_sender(c->msg, (flags & 8) ? "<>" : "<s@example.com>", NULL);
	pn_msg_add_rcpt(c->msg, "<r@example.org>", NULL);
	ev = (flags & 16) ? AUDIT_EV_ABORTED : AUDIT_EV_MESSAGE;
	rec = audit_record_build(&st, c, c->msg, ev, &env, &len, &err);
	if (rec) {
		json_object *o = json_tokener_parse(rec);
		audit_head h;
		audit_link l;
		pn_buf line;

		if (o == NULL || !json_object_is_type(o, json_type_object)
		    || !pn_utf8_valid(rec, len) || memchr(rec, '\n', len))
			__builtin_trap();
		json_object_put(o);
		audit_head_init(&h);
		pn_buf_init(&line, 0);
		if (audit_chain_seal(&line, rec, len, &h, key, sizeof(key) - 1) < 0
		    || audit_chain_parse(pn_buf_str(&line), pn_buf_len(&line), &l, &err) < 0
		    || !audit_chain_mac_ok(pn_buf_str(&line), pn_buf_len(&line), &l, key,
					   sizeof(key) - 1))
			__builtin_trap();
		pn_buf_free(&line);
	}
	pn_free(err);
	pn_free(rec);
	pn_conn_free(c);
	return 0;
}
