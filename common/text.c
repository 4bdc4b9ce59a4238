/* SPDX-License-Identifier: BSD-2-Clause */
/* text - small edits and parsers of C strings (see text.h) */
#include "common/text.h"

#include <stdlib.h>
#include <string.h>

/* pn_trim - s without spaces and tabs at both ends, in place */
char *pn_trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (i)
		memmove(s, s + i, n - i + 1);
	return s;
}

/* pn_parse_mode - octal permission string */
int pn_parse_mode(const char *s, mode_t *mode)
{
	char *end;
	long v;

	if (*s < '0' || *s > '7')	/* strtol would take "+7", " 7" and "-0" */
		return -1;
	v = strtol(s, &end, 8);
	if (*end != '\0' || v > 0777)
		return -1;
	*mode = (mode_t)v;
	return 0;
}
