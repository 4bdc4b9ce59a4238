/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_archive_record - libFuzzer target: one journal line back into a record
 *
 * A journal line that parses must render back (arc_record_json) to a line
 * that parses to the same rendering, with no line break in it, and every
 * id and SHA-256 a path could be built from must have its strict form;
 * anything else aborts so that libFuzzer reports it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/rfc2047.h"
#include "milters/archive/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arc_record r, again;
	char *line, *line2;

	if (arc_record_parse((const char *)data, size, &r) < 0)
		return 0;
	if (r.type == ARC_REC_DELIVERY
	    && (!arc_is_id(r.delivery->id) || !arc_is_sha256(r.delivery->sha256)))
		abort();
	if (r.type == ARC_REC_OBJECT && !arc_is_sha256(r.object.sha256))
		abort();
	line = arc_record_json(&r);
	if (strchr(line, '\n') || arc_record_parse(line, strlen(line), &again) < 0)
		abort();
	line2 = arc_record_json(&again);
	if (strcmp(line, line2) != 0)
		abort();
	pn_free(line);
	pn_free(line2);
	arc_record_clear(&again);
	arc_record_clear(&r);
	return 0;
}
