/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_audit_line - what verify, export and the trail's recovery read back:
 * any line through the chain parser, the MAC check and every export filter
 * and format. No crash, no leak; a parsed seq is at least 1. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
#include "milters/audit/chain.h"
#include "milters/audit/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[] = "fuzz-mac-key-0123456789";
	const char *line = (const char *)data;
	audit_filter f;
	audit_link l;
	char *err = NULL;
	FILE *out = fopen("/dev/null", "w");
	int fmt;

	if (audit_chain_parse(line, size, &l, &err) == 0) {
		if (l.seq < 1)
			__builtin_trap();
		audit_chain_mac_ok(line, size, &l, key, sizeof(key) - 1);
	}
	pn_free(err);
	audit_filter_init(&f);
	audit_filter_add(&f, AUDIT_F_SINCE, "2024-01-01", &err);
	audit_filter_add(&f, AUDIT_F_FROM, "@example.com", &err);
	audit_filter_add(&f, AUDIT_F_RCPT, "r@example.org", &err);
	audit_filter_add(&f, AUDIT_F_CLIENT, "192.0.2.0/24", &err);
	for (fmt = 0; fmt < 3 && out; fmt++) {
		audit_filter plain;
		audit_export *x;

		audit_filter_init(&plain);
		x = audit_export_new(fmt == 0 ? &f : &plain, (audit_format)fmt, out);
		audit_export_line(x, line, size);
		audit_export_finish(x);
	}
	audit_filter_free(&f);
	if (out)
		fclose(out);
	return 0;
}
