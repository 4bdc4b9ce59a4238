/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_sort_envelope - libFuzzer target for the address the Sieve envelope test compares
 *
 * The input is split at its first NUL byte: before it, an MTA macro value
 * ({rcpt_addr}); after it, the path as written. The address made from
 * them must be the canonical address in another spelling only: the same
 * domain once normalised, local@domain as address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/domain.h"
#include "milters/sort/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* one - the Sieve view of (mta, path) against its canonical form */
static void one(const char *mta, const char *path)
{
	pn_addr canon, view;
	int ok = pn_addr_parse_envelope(mta, path, &canon) == 0;
	char *norm, *addr;

	if (sv_envelope_address(path, ok ? &canon : NULL, &view) == 0) {
		if (view.local == NULL || view.domain == NULL || view.address == NULL)
			__builtin_trap();
		if (view.address[0] != '\0') {
			if (ok && canon.domain[0] != '\0' && strcasecmp(view.domain, canon.domain) != 0) {
				norm = pn_domain_normalise(view.domain);
				if (norm == NULL || strcmp(norm, canon.domain) != 0)
					__builtin_trap();	/* another domain */
				pn_free(norm);
			}
			addr = pn_asprintf("%s@%s", view.local, view.domain);
			if (strcmp(addr, view.address) != 0)
				__builtin_trap();
			pn_free(addr);
		}
		pn_addr_clear(&view);
	}
	pn_addr_clear(&canon);
}

/* LLVMFuzzerTestOneInput - the input as macro + path, and each half alone */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char *first = pn_memdup0(data, nul ? (size_t)(nul - data) : size);
	char *second = nul ? pn_memdup0(nul + 1, size - (size_t)(nul - data) - 1) : NULL;

	one(NULL, first);
	if (second != NULL) {
		one(first, second);
		one(NULL, second);
	}
	pn_free(first);
	pn_free(second);
	return 0;
}
