/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_tls_policy - libFuzzer target: arbitrary bytes as a postern-tls policy file */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/cidr.h"
#include "common/domain_map.h"
#include "milters/tls/decide.h"
#include "milters/tls/postfix_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - parse; what parses must export to a table that checks clean */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ptls_facts plain = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	static const ptls_facts tls = {"TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "128",
				       "mx.partner.example", "Partner CA", NULL, "192.0.2.1"};
	char *err = NULL, *out = NULL;
	size_t outlen = 0, i;
	ptls_policy_set *s;
	ptls_decision d;
	FILE *fp, *null;
	int n;

	s = ptls_policy_parse((const char *)data, size, "fuzz", &err);
	if (s == NULL) {
		/* A failure must always explain itself and say where. */
		if (err == NULL || strncmp(err, "fuzz:", 5) != 0)
			abort();
		pn_free(err);
		return 0;
	}
	if (err != NULL)
		abort();
	/* every key of the file must be found again by a lookup of itself */
	for (i = 0; i < s->count; i++) {
		const char *k = s->items[i]->key;
		if (k[0] != '.' && k[0] != '*' && ptls_policy_lookup(s, k) != s->items[i])
			abort();
		ptls_decide(s, PTLS_STAGE_MAIL, "<a@partner.example>", i % 2 ? &tls : &plain, &d);
		ptls_decision_clear(&d);
	}
	/* our own export, read back as Postfix's table, has no weakness */
	fp = open_memstream(&out, &outlen);
	if (fp == NULL)
		abort();
	ptls_postfix_map_write(s, fp);
	fclose(fp);
	null = fopen("/dev/null", "w");
	n = ptls_postfix_map_check(s, out, outlen, "export", null, &err);
	if (null)
		fclose(null);
	if (n != 0) {
		fprintf(stderr, "export of the policy checks with %d weaknesses (%s):\n%s", n,
			err ? err : "-", out);
		abort();
	}
	free(out);
	ptls_policy_free(s);
	return 0;
}
