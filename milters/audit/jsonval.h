/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	jsonval - read members of a parsed audit record, type-checked
 * SYNOPSIS
 *	#include "milters/audit/jsonval.h"
 *
 *	json_object *jv_member(json_object *o, const char *key);
 *	const char *jv_str(json_object *o, const char *key);
 * DESCRIPTION
 *	A record read back from a trail may have been edited: every reader
 *	(the SIEM formats, why) takes a member only when the record is an
 *	object and the member has the type it expects. jv_member() is o.key,
 *	or NULL when o is not an object or has no such member; jv_str() is
 *	o.key when it is a string, else NULL. Both accept o == NULL.
 */
#ifndef AUDIT_JSONVAL_H
#define AUDIT_JSONVAL_H

#include <json-c/json.h>

json_object *jv_member(json_object *o, const char *key);
const char *jv_str(json_object *o, const char *key);

#endif
