/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_tls_maillog - libFuzzer target: arbitrary bytes as Postfix log lines for the ledger */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milters/tls/maillog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* terminated - a field is a C string inside its array */
static void terminated(const char *field, size_t size)
{
	if (memchr(field, '\0', size) == NULL)
		abort();
}

/* known_failure - the ledger only ever stores RFC 8460 result types (or "") */
static int known_failure(const char *f)
{
	static const char *const types[] = {"", "starttls-not-supported",
					    "certificate-host-mismatch", "certificate-expired",
					    "certificate-not-trusted", "validation-failure", NULL};
	int i;

	for (i = 0; types[i]; i++)
		if (strcmp(f, types[i]) == 0)
			return 1;
	return 0;
}

/* LLVMFuzzerTestOneInput - each line parsed and tracked; events must be well-formed */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ptls_ml_tracker t;	/* large: not on the stack */
	const char *p = (const char *)data, *end = p + size, *nl;
	ptls_ml_line l;
	ptls_ml_event ev;
	int kind;

	ptls_ml_tracker_init(&t);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		kind = ptls_maillog_parse(p, (size_t)(nl - p), 1733395200, &l);
		if (kind != l.kind || kind < PTLS_ML_OTHER || kind > PTLS_ML_VERIFY_FAIL)
			abort();
		terminated(l.program, sizeof(l.program));
		terminated(l.peer, sizeof(l.peer));
		terminated(l.trust, sizeof(l.trust));
		terminated(l.version, sizeof(l.version));
		terminated(l.cipher, sizeof(l.cipher));
		terminated(l.queue_id, sizeof(l.queue_id));
		terminated(l.rcpt_domain, sizeof(l.rcpt_domain));
		terminated(l.status, sizeof(l.status));
		terminated(l.text, sizeof(l.text));
		if (ptls_ml_track(&t, &l, &ev)) {
			if (ev.partner == NULL || *ev.partner == '\0' || ev.result == NULL
			    || ev.tls == NULL || ev.cipher == NULL || ev.trust == NULL
			    || ev.failure == NULL || ev.detail == NULL || strlen(ev.day) != 10
			    || !known_failure(ev.failure))
				abort();
			terminated(ev.mx_host, sizeof(ev.mx_host));
		}
		p = nl + 1;
	}
	return 0;
}
