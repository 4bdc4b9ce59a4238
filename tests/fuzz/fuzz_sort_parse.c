/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_sort_parse - libFuzzer target for the Sieve lexer, parser and validator */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/actions.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mime.h"
#include "common/rfc2047.h"
#include "common/spool.h"
#include "common/milter/msg.h"
#include "milters/sort/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The Makefile links libpostern.a before the daemons' libraries, so the
 * modules libsort.a needs are pulled in here by name (see the report on
 * the link order); harmless once that is fixed.
 */
void *const sort_fuzz_force_link[] = {
	(void *)pn_buf_init, (void *)pn_addr_parse_path, (void *)pn_rfc2047_decode,
	(void *)pn_mime_new, (void *)pn_msg_size, (void *)pn_log_msg, (void *)pn_actions_new,
	(void *)pn_spool_new, (void *)pn_malloc,
};

/* LLVMFuzzerTestOneInput - any bytes as a script: compiles or names line:column */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	sv_script *s = sv_compile("fuzz", (const char *)data, size, NULL, &err);

	if (s == NULL) {
		/* every error names the script and a position: "fuzz:LINE:COL: text",
		 * with no severity word of its own (the logger adds one) */
		const char *p = err ? err + 5 : NULL;
		if (err == NULL || strncmp(err, "fuzz:", 5) != 0)
			__builtin_trap();
		if (*p < '0' || *p > '9')
			__builtin_trap();
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != ':' || *p < '0' || *p > '9')
			__builtin_trap();
		while (*p >= '0' && *p <= '9')
			p++;
		if (strncmp(p, ": ", 2) != 0 || strncmp(p + 2, "error:", 6) == 0)
			__builtin_trap();
		pn_free(err);
		return 0;
	}
	if (err != NULL)
		__builtin_trap();
	sv_script_free(s);
	return 0;
}
