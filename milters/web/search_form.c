/* SPDX-License-Identifier: BSD-2-Clause */
/* search_form - form fields to an archive query (see search_form.h) */
#include "milters/web/search_form.h"

#include <stddef.h>

const char *const web_search_fields[WEB_SEARCH_NFIELDS] = {
	"from", "to", "subject", "text", "since", "until", "attachment"
};

int web_search_query(const char *const values[WEB_SEARCH_NFIELDS], int held, arc_query *q,
		     char **err)
{
	size_t i;

	for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
		if (values[i] && *values[i]
		    && arc_query_set(q, web_search_fields[i], values[i], err) < 0)
			return -1;
	q->held_only = held;
	return 0;
}

long web_page_number(const char *s)
{
	long n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > 100000)
			return 0;
		n = n * 10 + (*s - '0');
	}
	return n <= 1000000 ? n : 0;
}
