/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sts_policy - the text formats of MTA-STS (RFC 8461): the policy file
 * (3.2), the TXT record (3.1), MX pattern matching (4.1) and the Postfix
 * policy a policy becomes. Pure functions, no I/O: the fuzz target and
 * the unit tests call them directly. Interface in sts.h.
 */
#include "milters/tls/sts.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ptls_sts_mode_name - "none", "testing" or "enforce" */
const char *ptls_sts_mode_name(ptls_sts_mode m)
{
	switch (m) {
	case PTLS_STS_MODE_ENFORCE: return "enforce";
	case PTLS_STS_MODE_TESTING: return "testing";
	case PTLS_STS_MODE_NONE: break;
	}
	return "none";
}

void ptls_sts_policy_free(ptls_sts_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->mx_count; i++)
		pn_free(p->mx[i]);
	pn_free(p->mx);
	pn_free(p);
}

/* fail - set *err to "policy line N: ..." and return NULL */
static ptls_sts_policy *fail(ptls_sts_policy *p, char **err, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static ptls_sts_policy *fail(ptls_sts_policy *p, char **err, unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		*err = line ? pn_asprintf("policy line %u: %s", line, msg) : pn_strdup(msg);
	ptls_sts_policy_free(p);
	return NULL;
}

/* host_pattern_ok - an mx value: a host name, optionally "*." + one; lower-cased in place */
static int host_pattern_ok(char *v)
{
	char *s = v, *label;
	size_t n;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (label = s;; label = s + 1) {
		for (n = 0, s = label; *s && *s != '.'; s++, n++) {
			if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
				return 0;
			*s = (char)tolower((unsigned char)*s);
		}
		if (n == 0 || n > 63)
			return 0;
		if (*s == '\0')
			break;
	}
	return strchr(v, '.') != NULL;	/* "*.com" has one; a bare "mx" does not */
}

/* ptls_sts_policy_parse - RFC 8461 3.2 key: value lines (LF or CRLF) */
ptls_sts_policy *ptls_sts_policy_parse(const char *text, size_t len, char **err)
{
	ptls_sts_policy *p;
	const char *s = text, *end = text + len;
	int have_version = 0, have_mode = 0, have_age = 0;
	unsigned line = 0;

	if (err)
		*err = NULL;
	if (len > PTLS_STS_POLICY_MAX)
		return fail(NULL, err, 0, "policy larger than %d bytes", PTLS_STS_POLICY_MAX);
	p = pn_calloc(1, sizeof(*p));
	p->mx = pn_calloc(PTLS_STS_MX_MAX + 1, sizeof(char *));
	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s)), *colon, *vs, *ve, *ks;
		char key[32], value[256];
		size_t klen, vlen;

		line++;
		if (eol == NULL)
			eol = end;
		ve = eol;
		if (ve > s && ve[-1] == '\r')
			ve--;
		ks = s;
		s = eol < end ? eol + 1 : end;
		while (ks < ve && (*ks == ' ' || *ks == '\t'))
			ks++;
		while (ve > ks && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (ks == ve)
			continue;	/* a blank line (a trailing one is common) */
		if (memchr(ks, '\0', (size_t)(ve - ks)) != NULL)
			return fail(p, err, line, "NUL byte");
		if ((colon = memchr(ks, ':', (size_t)(ve - ks))) == NULL)
			return fail(p, err, line, "no \"key: value\"");
		klen = (size_t)(colon - ks);
		if (klen == 0 || klen >= sizeof(key))
			return fail(p, err, line, "bad key");
		memcpy(key, ks, klen);
		key[klen] = '\0';
		/* checked before any message quotes it: server text reaches the log */
		for (size_t i = 0; i < klen; i++)
			if (!isalnum((unsigned char)key[i]) && key[i] != '_' && key[i] != '-')
				return fail(p, err, line, "bad key");
		for (vs = colon + 1; vs < ve && (*vs == ' ' || *vs == '\t'); vs++)
			;
		vlen = (size_t)(ve - vs);
		if (vlen >= sizeof(value))
			return fail(p, err, line, "value of \"%.31s\" too long", key);
		memcpy(value, vs, vlen);
		value[vlen] = '\0';
		for (size_t i = 0; i < vlen; i++)
			if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] >= 0x7f)
				return fail(p, err, line, "control or non-ASCII byte in \"%.31s\"", key);
		/* RFC 8461 3.2: the first occurrence of a key counts (mx repeats) */
		if (strcmp(key, "version") == 0) {
			if (have_version++)
				continue;
			if (strcmp(value, "STSv1") != 0)
				return fail(p, err, line, "version \"%s\" is not STSv1", value);
		} else if (strcmp(key, "mode") == 0) {
			if (have_mode++)
				continue;
			if (strcmp(value, "enforce") == 0)
				p->mode = PTLS_STS_MODE_ENFORCE;
			else if (strcmp(value, "testing") == 0)
				p->mode = PTLS_STS_MODE_TESTING;
			else if (strcmp(value, "none") == 0)
				p->mode = PTLS_STS_MODE_NONE;
			else
				return fail(p, err, line, "mode \"%s\" (want enforce, testing or none)",
					    value);
		} else if (strcmp(key, "max_age") == 0) {
			long long age = 0;

			if (have_age++)
				continue;
			if (vlen == 0 || vlen > 10 || strspn(value, "0123456789") != vlen)
				return fail(p, err, line, "max_age \"%s\" is not 1 to 10 digits", value);
			age = strtoll(value, NULL, 10);
			/* RFC 8461 3.2: up to one year; larger values are capped */
			p->max_age = age > PTLS_STS_MAX_AGE_MAX ? PTLS_STS_MAX_AGE_MAX : age;
		} else if (strcmp(key, "mx") == 0) {
			if (!host_pattern_ok(value))
				return fail(p, err, line, "mx \"%s\" is not a host name or \"*.\" pattern",
					    value);
			if (p->mx_count == PTLS_STS_MX_MAX)
				return fail(p, err, line, "more than %d mx lines", PTLS_STS_MX_MAX);
			p->mx[p->mx_count++] = pn_strdup(value);
		}
		/* other keys: ignored (extensions, RFC 8461 3.2) */
	}
	if (!have_version)
		return fail(p, err, 0, "no \"version: STSv1\"");
	if (!have_mode)
		return fail(p, err, 0, "no \"mode\"");
	if (!have_age)
		return fail(p, err, 0, "no \"max_age\"");
	if (p->mode != PTLS_STS_MODE_NONE && p->mx_count == 0)
		return fail(p, err, 0, "mode %s without any \"mx\"", ptls_sts_mode_name(p->mode));
	return p;
}

/* ptls_sts_mx_match - RFC 8461 4.1: exact (case-insensitive), or "*." + one label */
int ptls_sts_mx_match(const ptls_sts_policy *p, const char *mx_host)
{
	char host[256];
	size_t n, i;

	if (p == NULL || mx_host == NULL)
		return 0;
	n = strlen(mx_host);
	if (n > 0 && mx_host[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, mx_host, n);
	host[n] = '\0';
	for (i = 0; i < p->mx_count; i++) {
		const char *pat = p->mx[i], *dot;

		if (strncmp(pat, "*.", 2) != 0) {
			if (strcasecmp(pat, host) == 0)
				return 1;
			continue;
		}
		/* the wildcard stands for exactly the left-most label */
		if ((dot = strchr(host, '.')) == NULL || dot == host)
			continue;
		if (strcasecmp(pat + 1, dot) == 0)
			return 1;
	}
	return 0;
}

/* ptls_sts_txt_parse - "v=STSv1; id=...;" -> 1 with id, 0 when not an STS record, -1 bad */
int ptls_sts_txt_parse(const char *txt, size_t len, char id[PTLS_STS_ID_MAX + 1])
{
	const char *s = txt, *end = txt + len;
	int first = 1, have_id = 0;

	if (len < 7 || memcmp(txt, "v=STSv1", 7) != 0)
		return 0;	/* other TXT records share the name: not ours */
	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s)), *fs, *fe, *eq;

		if (semi == NULL)
			semi = end;
		for (fs = s; fs < semi && (*fs == ' ' || *fs == '\t'); fs++)
			;
		for (fe = semi; fe > fs && (fe[-1] == ' ' || fe[-1] == '\t'); fe--)
			;
		s = semi < end ? semi + 1 : end;
		if (fs == fe) {
			if (first)
				return -1;
			continue;
		}
		if ((eq = memchr(fs, '=', (size_t)(fe - fs))) == NULL || eq == fs)
			return -1;
		if (first) {
			if ((size_t)(fe - fs) != 7 || memcmp(fs, "v=STSv1", 7) != 0)
				return -1;
			first = 0;
		} else if ((size_t)(eq - fs) == 2 && memcmp(fs, "id", 2) == 0) {
			size_t n = (size_t)(fe - eq - 1), i;

			if (have_id)
				continue;
			if (n == 0 || n > PTLS_STS_ID_MAX)
				return -1;
			for (i = 0; i < n; i++)
				if (!isalnum((unsigned char)eq[1 + i]))
					return -1;
			memcpy(id, eq + 1, n);
			id[n] = '\0';
			have_id = 1;
		}
	}
	return have_id ? 1 : -1;
}

/* ptls_sts_postfix_answer - the smtp_tls_policy_maps value for an enforced policy */
char *ptls_sts_postfix_answer(const ptls_sts_policy *p)
{
	pn_buf b;
	size_t i;

	if (p == NULL || p->mode != PTLS_STS_MODE_ENFORCE || p->mx_count == 0)
		return NULL;
	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "secure match=");
	for (i = 0; i < p->mx_count; i++) {
		if (i)
			pn_buf_putc(&b, ':');
		/* Postfix's ".domain" stands for every subdomain; "*." is one label */
		pn_buf_puts(&b, strncmp(p->mx[i], "*.", 2) == 0 ? p->mx[i] + 1 : p->mx[i]);
	}
	pn_buf_puts(&b, " servername=hostname");
	return pn_buf_steal(&b, NULL);
}

/* ptls_sts_policy_text - the policy in RFC 8461 form, one field a line */
char *ptls_sts_policy_text(const ptls_sts_policy *p)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	pn_buf_printf(&b, "version: STSv1\nmode: %s\n", ptls_sts_mode_name(p->mode));
	for (i = 0; i < p->mx_count; i++)
		pn_buf_printf(&b, "mx: %s\n", p->mx[i]);
	pn_buf_printf(&b, "max_age: %lld\n", p->max_age);
	return pn_buf_steal(&b, NULL);
}
