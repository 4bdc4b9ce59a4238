/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	search_form - the search form's fields as an archive query
 * SYNOPSIS
 *	#include "milters/web/search_form.h"
 *
 *	extern const char *const web_search_fields[WEB_SEARCH_NFIELDS];
 *	int web_search_query(const char *const values[WEB_SEARCH_NFIELDS],
 *	                     int held, arc_query *q, char **err);
 *	long web_page_number(const char *s);
 * DESCRIPTION
 *	The form's fields (from, to, subject, text, since, until,
 *	attachment) are the options of `postern-archive search`, and each is
 *	handed to arc_query_set() under that same name: the browser and the
 *	shell parse dates, sizes and words with one function. Empty or
 *	absent values (NULL) are no criterion; held asks for held
 *	deliveries only. q must have been set up with arc_query_init();
 *	the caller clears it.
 *
 *	web_page_number() reads page=N: 0 for anything that is not a
 *	decimal number from 0 to 1000000.
 * DIAGNOSTICS
 *	web_search_query() returns 0, or -1 with *err (pn_free) naming the
 *	field and the value it could not read.
 */
#ifndef WEB_SEARCH_FORM_H
#define WEB_SEARCH_FORM_H

#include "milters/archive/query.h"

#define WEB_SEARCH_NFIELDS 7

extern const char *const web_search_fields[WEB_SEARCH_NFIELDS];

int web_search_query(const char *const values[WEB_SEARCH_NFIELDS], int held, arc_query *q,
		     char **err);
long web_page_number(const char *s);

#endif
