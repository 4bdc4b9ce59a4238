/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	siem_fields - the table of SIEM fields the audit mappings emit
 * SYNOPSIS
 *	#include "milters/audit/siem_fields.h"
 *
 *	extern const audit_siem_field audit_siem_fields[];
 *	const audit_siem_field *audit_siem_field_find(audit_siem_format fmt,
 *	                                              const char *name);
 *	const char *audit_siem_format_name(audit_siem_format fmt);
 * DESCRIPTION
 *	Every field siem.c may write, per format, with the type and the
 *	requirement the target schema gives it: the project's own record
 *	of what it relies on, so a test can check it against the reference
 *	schemas (../shared/siem/ in CI) and against every event the mappers
 *	produce, and `postern-audit fields` can print it for an
 *	administrator writing dashboards. Names are dotted paths of object
 *	members; an array's items share their array's path.
 *
 *	    ECS   flat field name, ECS type (keyword, long, date, ...),
 *	          "required" when ECS requires it, else "optional";
 *	          "postern" (type object, requirement "custom") is the
 *	          custom namespace for Postern's own facts
 *	    OCSF  attribute path, dictionary type (string_t, email_t, ...)
 *	          or object name, requirement in the class or object
 *	          (required, recommended, optional); "unmapped" holds the
 *	          facts OCSF has no attribute for
 *	    CIM   Email data model field, "string" or "number",
 *	          "required" for the data model's 11, "optional" for its
 *	          others, "custom" for postern_* and time
 *
 *	The table ends with an entry whose name is NULL.
 * DIAGNOSTICS
 *	audit_siem_field_find() returns NULL for a field not in the table.
 */
#ifndef AUDIT_SIEM_FIELDS_H
#define AUDIT_SIEM_FIELDS_H

#include "milters/audit/siem.h"

typedef struct audit_siem_field {
	audit_siem_format fmt;
	const char *name, *type, *requirement;
} audit_siem_field;

extern const audit_siem_field audit_siem_fields[];

const audit_siem_field *audit_siem_field_find(audit_siem_format fmt, const char *name);
const char *audit_siem_format_name(audit_siem_format fmt);

#endif
