/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_envelope - libFuzzer target for canonical envelope addresses and domain normalisation
 *
 * The input is split at its first NUL byte: before it, an MTA macro value
 * ({mail_addr}); after it, the path as written. Each half is also given
 * alone, as a path and as a domain.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - the documented invariants of a canonical address */
static void check(const pn_addr *a, int rc)
{
	char *d, *r;

	if (a->local == NULL || a->domain == NULL || a->address == NULL)
		__builtin_trap();
	if (a->display != NULL || a->group != NULL)
		__builtin_trap();
	if (rc == 0 && a->domain[0] != '\0') {
		/* the domain is in its one form already */
		d = pn_domain_normalise(a->domain);
		if (d == NULL || strcmp(d, a->domain) != 0)
			__builtin_trap();
		pn_free(d);
	}
	if (rc != 0 && a->domain[0] != '\0')
		__builtin_trap();
	r = pn_addr_relay_domain(a->local);
	pn_free(r);
}

/* one - every function on one (mta, path) pair */
static void one(const char *mta, const char *path)
{
	pn_addr a;
	int rc = pn_addr_parse_envelope(mta, path, &a);
	char *d;

	check(&a, rc);
	pn_addr_clear(&a);
	d = pn_domain_normalise(path);
	if (d != NULL) {
		char *again = pn_domain_normalise(d);
		if (again == NULL || strcmp(again, d) != 0)
			__builtin_trap();	/* normalising is idempotent */
		pn_free(again);
	}
	pn_free(d);
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
