/* SPDX-License-Identifier: BSD-2-Clause */
/* jsonval - type-checked members of a parsed record (see jsonval.h) */
#include "milters/audit/jsonval.h"

/* jv_member - o.key, or NULL */
json_object *jv_member(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_is_type(o, json_type_object)
	    || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* jv_str - o.key as a string, or NULL */
const char *jv_str(json_object *o, const char *key)
{
	json_object *v = jv_member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}
