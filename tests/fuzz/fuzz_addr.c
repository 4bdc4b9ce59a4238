/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_addr - libFuzzer target for the path, list and subaddress parsers */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/addr.h"
#include "common/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_addr - every parsed address must keep the documented invariants */
static void check_addr(const pn_addr *a)
{
	char *user, *detail;

	if (a->local == NULL || a->domain == NULL || a->address == NULL)
		__builtin_trap();
	if (a->domain[0] != '\0' && strchr(a->address, '@') == NULL)
		__builtin_trap();
	pn_addr_split_sub(a->local, "+-", &user, &detail);
	pn_free(user);
	pn_free(detail);
}

/* LLVMFuzzerTestOneInput - the input as a header value and as a path */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = pn_memdup0(data, size);	/* C strings end at the first NUL */
	pn_addr_list *l;
	pn_addr a;
	char *err = NULL, *d;
	size_t i;

	l = pn_addr_parse_list(s, size % 7);	/* also exercise max_items */
	for (i = 0; i < l->count; i++)
		check_addr(&l->items[i]);
	pn_addr_list_free(l);

	if (pn_addr_parse_path(s, &a, &err) == 0) {
		check_addr(&a);
		if (err != NULL)
			__builtin_trap();
		pn_addr_clear(&a);
	} else if (err == NULL || a.local != NULL) {
		__builtin_trap();
	}
	pn_free(err);

	d = pn_domain_lower(s);
	pn_free(d);
	pn_free(s);
	return 0;
}
