/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_audit_siem - any trail line through the SIEM mappings: parsed as
 * JSON, modelled once and mapped to ECS, OCSF and CIM. Records come from
 * files an attacker may have edited, and from record kinds added later:
 * no crash, no leak, and every event serialises. */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "milters/audit/siem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_tokener *tok = json_tokener_new();
	json_object *rec = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	pn_buf out;
	int fmt;

	pn_buf_init(&out, 0);
	if (rec && json_object_is_type(rec, json_type_object))
		for (fmt = AUDIT_SIEM_ECS; fmt <= AUDIT_SIEM_CIM; fmt++)
			audit_siem_write((audit_siem_format)fmt, rec, (const char *)data, size, &out);
	pn_buf_free(&out);
	json_object_put(rec);
	json_tokener_free(tok);
	return 0;
}
