/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_sts_dns - libFuzzer target: arbitrary bytes as the DNS answer to the
 * _mta-sts TXT query and to the MX query (what sts_resolver sends back) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "milters/tls/sts_fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MX_MAX 8

/* LLVMFuzzerTestOneInput - an id is a short token; every host name is freed */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[PTLS_STS_ID_MAX + 1], *why = NULL, *hosts[MX_MAX];
	int r, n, i;
	size_t k;

	if (size > 65535)
		return 0;	/* a DNS message is at most 64 KB */
	memset(id, 0, sizeof(id));
	r = ptls_sts_txt_answer(data, (int)size, "example.com", id, &why);
	if (r == 1) {
		/* RFC 8461 3.1: 1 to 32 letters and digits */
		size_t len = strlen(id);
		if (len == 0 || len > PTLS_STS_ID_MAX)
			abort();
		for (k = 0; k < len; k++)
			if (!((id[k] >= 'a' && id[k] <= 'z') || (id[k] >= 'A' && id[k] <= 'Z')
			      || (id[k] >= '0' && id[k] <= '9')))
				abort();
	} else if (r < -1 || r > 1 || (r == -1 && why == NULL)) {
		abort();
	}
	pn_free(why);
	n = ptls_sts_mx_answer(data, (int)size, hosts, MX_MAX);
	if (n < -1 || n > MX_MAX)
		abort();
	for (i = 0; i < n; i++)
		pn_free(hosts[i]);
	return 0;
}
