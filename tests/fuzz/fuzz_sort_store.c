/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_sort_store - libFuzzer target for postern-sort's response store file
 *
 * The input is the file as a crash or an attacker who can write it might
 * leave it: a header, whole and cut records, anything. The store must
 * open it or refuse it with a message, never crash, and then keep its
 * promises while it stays bounded: a key put until a later time is seen,
 * a claimed key is claimed once, and the keys of the input beyond the
 * bound cost no memory (max_entries 16).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/sort/sort_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - the input as the store's file */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	FILE *fp;
	sort_store *st;
	char *err = NULL;
	unsigned char key[32];
	size_t i;

	snprintf(path, sizeof(path), "/tmp/fuzz-sort-store-%ld", (long)getpid());
	unlink(path);
	if ((fp = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	st = sort_store_open(path, 16, &err);
	if (st == NULL) {
		if (err == NULL)
			__builtin_trap();	/* a refusal always says why */
		pn_free(err);
		unlink(path);
		return 0;
	}
	/* keys made from the input: more of them than the store holds */
	for (i = 0; i < 40; i++) {
		memset(key, 0, sizeof(key));
		key[0] = (unsigned char)i;
		if (size)
			key[1] = data[i % size];
		if (sort_store_claim(st, key, 1000, 2000) == 0
		    && sort_store_claim(st, key, 1000, 2000) != 1)
			__builtin_trap();	/* claimed twice */
		if (sort_store_put(st, key, 5000) == 0 && sort_store_seen(st, key, 4999) != 1)
			__builtin_trap();	/* put but not seen */
		if (sort_store_seen(st, key, 5000) == 1)
			__builtin_trap();	/* seen after it expired */
	}
	sort_store_close(st);
	unlink(path);
	return 0;
}
