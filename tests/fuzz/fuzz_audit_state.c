/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_audit_state - the two small files postern-audit reads back at start:
 * the head file (headfile.h) and the sealing key file in both forms
 * (seal.h). Any bytes: no crash, no leak; what parses writes back and
 * parses again to the same values. Files go through a private temporary
 * directory because both readers open paths (with O_NOFOLLOW). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/audit/headfile.h"
#include "milters/audit/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dir, *path, *copy;

/* put - data into path, mode 0600 */
static void put(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		__builtin_trap();
	fwrite(data, 1, size, f);
	fclose(f);
	chmod(path, 0600);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	audit_headfile h, again;
	audit_seal s, t;
	char *err = NULL;

	if (dir == NULL) {
		dir = pn_strdup("/tmp/fuzz_audit_state.XXXXXX");
		if (mkdtemp(dir) == NULL)
			__builtin_trap();
		path = pn_asprintf("%s/file", dir);
		copy = pn_asprintf("%s/copy", dir);
	}
	put(data, size);
	if (audit_headfile_read(path, &h, &err) == 1) {
		if (audit_headfile_write(copy, &h, 0, &err) < 0
		    || audit_headfile_read(copy, &again, &err) != 1 || again.seq != h.seq
		    || strcmp(again.hash, h.hash) != 0 || strcmp(again.trail_id, h.trail_id) != 0)
			__builtin_trap();
	}
	pn_free(err);
	err = NULL;
	if (audit_seal_load(path, AUDIT_SEAL_ANY_OWNER, &s, &err) == 0) {
		if (s.epoch > 0) {	/* the evolved form: write it back (fsync: rare) */
			if (audit_seal_save(copy, &s, &err) == 0
			    && (audit_seal_load(copy, AUDIT_SEAL_ANY_OWNER, &t, &err) < 0
				|| t.epoch != s.epoch || strcmp(t.key_id, s.key_id) != 0))
				__builtin_trap();
			audit_seal_wipe(&t);
		}
		if (s.epoch < 1000)
			audit_seal_evolve(&s);
		audit_seal_wipe(&s);
	}
	pn_free(err);
	return 0;
}
