/* SPDX-License-Identifier: BSD-2-Clause */
/* domain - normalised domain names, IDNA via libidn2 (see domain.h) */
#include "common/domain.h"
#include "common/alloc.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>

/* Longest domain accepted (DNS: 253 octets in text form; U-labels are longer). */
#define DOMAIN_INPUT_MAX 1024

/* lower - ASCII only: tolower() depends on the locale */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* host_char - letters, digits, "-" and "_" (which occurs in real DNS names) */
static int host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	       || c == '-' || c == '_';
}

/* labels_ok - non-empty dot-separated labels of host_char bytes */
static int labels_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '.' && !host_char(c))
			return 0;
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else {
			label++;
		}
	}
	return label > 0;
}

/* literal_ok - "[...]" with printable ASCII inside and no nested brackets */
static int literal_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return 0;
	for (i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '[' || c == ']' || c == '\\')
			return 0;
	}
	return 1;
}

/* ascii_lower - lower-cased copy of s[0..n) */
static char *ascii_lower(const char *s, size_t n)
{
	char *out = pn_memdup0(s, n);
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = lower(out[i]);
	return out;
}

/* pn_domain_normalise_n - the one form of s[0..n), or NULL */
char *pn_domain_normalise_n(const char *s, size_t n)
{
	char *copy, *ascii = NULL, *out;
	size_t i;
	int rc, non_ascii = 0;

	if (s == NULL || n == 0 || n > DOMAIN_INPUT_MAX || memchr(s, '\0', n) != NULL)
		return NULL;
	if (s[0] == '[')
		return literal_ok(s, n) ? ascii_lower(s, n) : NULL;
	if (n > 1 && s[n - 1] == '.')
		n--;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			non_ascii = 1;
	if (!non_ascii)
		return labels_ok(s, n) ? ascii_lower(s, n) : NULL;
	/* UTS #46 maps full-width and ideographic full stops to "."; the
	 * labels are checked on the result. */
	copy = pn_memdup0(s, n);
	rc = idn2_to_ascii_8z(copy, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	pn_free(copy);
	if (rc != IDN2_OK || ascii == NULL) {
		free(ascii);	/* libidn2 allocates with malloc */
		return NULL;
	}
	/* the A-label form must itself be a domain name ("\xc2\xad[" maps
	 * to "["), and normalising it again must give it back */
	for (i = 0; ascii[i]; i++)
		if ((unsigned char)ascii[i] >= 0x80)
			break;
	out = ascii[i] == '\0' && ascii[0] != '[' ? pn_domain_normalise_n(ascii, strlen(ascii))
						   : NULL;
	free(ascii);
	return out;
}

/* pn_domain_normalise - the one form of a NUL-terminated domain, or NULL */
char *pn_domain_normalise(const char *domain)
{
	return domain ? pn_domain_normalise_n(domain, strlen(domain)) : NULL;
}
