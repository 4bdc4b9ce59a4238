/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	config - Postfix main.cf syntax with per-daemon parameter tables
 * SYNOPSIS
 *	#include "common/config.h"
 *
 *	static const pn_param table[] = {
 *	    { "workers", PN_PARAM_INT, "16", 1, 256, NULL, "worker threads" },
 *	    { "on_error", PN_PARAM_ENUM, "tempfail", 0, 0,
 *	      "tempfail|accept|reject", "what to do when a lookup fails" },
 *	    { NULL },
 *	};
 *
 *	pn_config *pn_config_load(const char *path, const pn_param *table,
 *	                          char **err);
 *	pn_config *pn_config_parse(const char *text, const char *filename,
 *	                           const pn_param *table, char **err);
 *	pn_config *pn_config_parse_mem(const char *text, size_t len,
 *	                           const char *filename, const pn_param *table,
 *	                           char **err);
 *	pn_config *pn_config_defaults(const pn_param *table);
 *
 *	const char *pn_config_str(const pn_config *cfg, const char *name);
 *	long long pn_config_int(const pn_config *cfg, const char *name);
 *	int pn_config_bool(const pn_config *cfg, const char *name);
 *	int pn_config_is_set(const pn_config *cfg, const char *name);
 *	size_t pn_config_line(const pn_config *cfg, const char *name);
 *	const char *pn_config_path(const pn_config *cfg);
 *	void pn_config_dump(const pn_config *cfg, FILE *out, int only_changed);
 *	void pn_config_free(pn_config *cfg);
 * DESCRIPTION
 *	A daemon describes every parameter it understands in a table: name,
 *	type, default, bounds, and a one-line help text. Files use the
 *	syntax of Postfix's main.cf (postconf(5)), so an administrator who
 *	knows Postfix needs to learn nothing new:
 *
 *	    # comment
 *	    name = value
 *	        continuation (a line that starts with white space)
 *
 *	White space around "=" and at both ends of a value is ignored. A
 *	line whose first non-space character is "#" is a comment, and so is
 *	a blank line; neither ends a logical line that continues below it.
 *	A continuation is joined to its logical line with one space. A "#"
 *	after the start of a value is part of the value, as in Postfix.
 *	A later definition of a name replaces an earlier one; only the
 *	final value is checked. A UTF-8 byte order mark is skipped.
 *
 *	After the whole file is read, every value (defaults included) has
 *	$name, ${name} and $(name) replaced by the named parameter's value;
 *	${name?text} gives text when $name is not empty, ${name:text} when
 *	it is empty; "$$" is a literal "$". Naming an unknown parameter, an
 *	expansion loop, nesting deeper than 100 levels or a result longer
 *	than 64 KB is an error.
 *
 *	Types and the values they accept (bounds min..max are inclusive;
 *	min == max == 0 means unbounded):
 *	PN_PARAM_STR	anything, possibly empty.
 *	PN_PARAM_INT	a decimal integer, optionally negative.
 *	PN_PARAM_BOOL	yes/no, true/false, on/off, 1/0 (any case).
 *	PN_PARAM_SIZE	bytes, with an optional k, m or g suffix (1024-based,
 *			any case); bounds in bytes.
 *	PN_PARAM_TIME	a number with an optional unit s, m, h, d or w (any
 *			case; none means seconds); bounds in seconds.
 *	PN_PARAM_ENUM	one of the "|"-separated choices, matched without
 *			regard to case and stored as spelled in the table.
 *
 *	pn_config_load() reads a file; pn_config_parse() reads text, naming
 *	it filename in messages (NULL: "(string)"); pn_config_parse_mem()
 *	does the same for len bytes, which may hold a NUL (rejected).
 *	pn_config_defaults() builds the configuration no file changes.
 *
 *	pn_config_str() answers for STR and ENUM parameters (ENUM: the
 *	canonical choice); pn_config_int() for INT, SIZE (bytes) and TIME
 *	(seconds); pn_config_bool() for BOOL (1 or 0). pn_config_is_set()
 *	tells whether the file defined the parameter, pn_config_line() on
 *	which line (0: a default), so that a rule the parser cannot know
 *	is reported as file:line as well. pn_config_path() is
 *	the file name given at load or parse time, NULL for defaults.
 *
 *	pn_config_dump() prints "name = value" for every parameter in
 *	name order, as postconf(1) does, with the value as written (before
 *	expansion) and the help text on a "# " line above it. With
 *	only_changed it prints, like postconf -n, just the parameters the
 *	file defined, without help lines. Help goes on its own line because
 *	a "#" after a value would become part of the value if the output
 *	were pasted back into a file.
 *
 *	A table is an array ended by an entry whose name is NULL; it must
 *	outlive every pn_config made from it. A loaded pn_config is never
 *	modified, so threads may share it without locking.
 * DIAGNOSTICS
 *	On a bad file the load and parse functions return NULL and store in
 *	*err (when err is not NULL) one message, which the caller frees with
 *	pn_free(). It names file:line, the parameter, its value and the rule
 *	broken, e.g.
 *	    /etc/postern/tls.conf:7: parameter "workers" = "900": above the
 *	    maximum 256
 *	Reading stops at the first error.
 *
 *	Programming errors are panics (message and abort()): a getter asked
 *	for a name not in the table or of another type, a malformed table
 *	(duplicate names, min > max, an ENUM without choices), or a default
 *	that is not valid for its type.
 */
#ifndef PN_CONFIG_H
#define PN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* Longest line, logical line or expanded value a file may hold. */
#define PN_CONFIG_LINE_MAX (64 * 1024)

typedef enum {
	PN_PARAM_STR,
	PN_PARAM_INT,
	PN_PARAM_BOOL,
	PN_PARAM_SIZE,
	PN_PARAM_TIME,
	PN_PARAM_ENUM
} pn_param_type;

typedef struct pn_param {
	const char *name;
	pn_param_type type;
	const char *default_value;	/* NULL means "" */
	long long min;
	long long max;
	const char *choices;		/* ENUM: "tempfail|accept|reject" */
	const char *help;		/* one line, shown by dump */
} pn_param;

typedef struct pn_config pn_config;

pn_config *pn_config_load(const char *path, const pn_param *table, char **err);
pn_config *pn_config_parse(const char *text, const char *filename,
			   const pn_param *table, char **err);
pn_config *pn_config_parse_mem(const char *text, size_t len,
			       const char *filename, const pn_param *table,
			       char **err);
pn_config *pn_config_defaults(const pn_param *table);
const char *pn_config_str(const pn_config *cfg, const char *name);
long long pn_config_int(const pn_config *cfg, const char *name);
int pn_config_bool(const pn_config *cfg, const char *name);
int pn_config_is_set(const pn_config *cfg, const char *name);
size_t pn_config_line(const pn_config *cfg, const char *name);
const char *pn_config_path(const pn_config *cfg);
void pn_config_dump(const pn_config *cfg, FILE *out, int only_changed);
void pn_config_free(pn_config *cfg);

#endif
