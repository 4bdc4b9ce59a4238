/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_envelope - the envelope address the Sieve envelope test compares
 *
 * Two demands meet here. An address must not be spelled past a rule:
 * "<bob(x)@example.org.>", "<@relay:bob@example.org>" and
 * "<\"bob\"@example.org>" are all bob@example.org to the MTA, so they
 * must be to the script too; that is the canonical form of common/addr.h
 * (the MTA's own parse, {rcpt_addr}, when it sent one). And RFC 5228 2.7.3
 * compares what the MTA gave with the comparator the script chose: under
 * i;octet "Example.ORG" is not "example.org", and ${1} of a :matches
 * keeps the case. The canonical form lower-cases the domain (and turns a
 * U-label into its A-label), so the case cannot come from it.
 *
 * sv_envelope_address() therefore takes the canonical address and puts
 * back the domain as it was written in the path, once that spelling is
 * shown to be the very same domain (same canonical form): only case, a
 * U-label and the dropped trailing dot can differ, never which domain it
 * is. Anything else odd in the written domain (a comment inside it, an
 * "@" in a trailing comment) gives the canonical domain. The local part
 * is the canonical one, whose case the MTA keeps, written as RFC 5321
 * writes it: as a dot-atom, or quoted when it is not one.
 */
#include "milters/sort/sieve.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/domain.h"

#include <string.h>
#include <strings.h>

/* is_atext - RFC 5322 atext, UTF-8 bytes included (RFC 6532) */
static int is_atext(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_dot_atom - the local part can be written without quotes */
static int is_dot_atom(const char *s)
{
	const char *p;
	int start = 1;

	if (*s == '\0')
		return 0;
	for (p = s; *p; p++) {
		if (*p == '.') {
			if (start)
				return 0;	/* leading or doubled dot */
			start = 1;
			continue;
		}
		if (!is_atext((unsigned char)*p))
			return 0;
		start = 0;
	}
	return !start;
}

/* sv_written_local - see sieve.h */
char *sv_written_local(const char *local)
{
	pn_buf b;
	const char *p;

	if (is_dot_atom(local))
		return pn_strdup(local);
	pn_buf_init(&b, 0);
	pn_buf_putc(&b, '"');
	for (p = local; *p; p++) {
		if (*p == '"' || *p == '\\')
			pn_buf_putc(&b, '\\');
		pn_buf_putc(&b, *p);
	}
	pn_buf_putc(&b, '"');
	return pn_buf_steal(&b, NULL);
}

/* written_domain - the domain as the path spells it, when it is canon */
static char *written_domain(const char *path, const char *canon)
{
	const char *at = path ? strrchr(path, '@') : NULL, *end;
	char *given, *norm;

	if (at == NULL)
		return pn_strdup(canon);
	at++;
	end = at + strcspn(at, ">");
	while (end > at && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end > at && end[-1] == '.')
		end--;		/* Postfix drops one trailing dot */
	given = pn_memdup0(at, (size_t)(end - at));
	if (*given != '\0' && strcasecmp(given, canon) == 0)
		return given;
	norm = *given != '\0' ? pn_domain_normalise(given) : NULL;
	if (norm != NULL && strcmp(norm, canon) == 0) {
		pn_free(norm);
		return given;
	}
	pn_free(norm);
	pn_free(given);
	return pn_strdup(canon);
}

/* sv_envelope_address - see sieve.h */
int sv_envelope_address(const char *path, const pn_addr *canon, pn_addr *out)
{
	pn_addr own;

	memset(out, 0, sizeof(*out));
	memset(&own, 0, sizeof(own));
	if (canon == NULL) {
		if (pn_addr_parse_envelope(NULL, path ? path : "", &own) < 0) {
			pn_addr_clear(&own);
			return -1;
		}
		canon = &own;
	}
	if (canon->address[0] != '\0' && canon->domain[0] == '\0')
		return -1;	/* no domain could be made out */
	if (canon->address[0] == '\0') {	/* the null sender */
		out->local = pn_strdup("");
		out->domain = pn_strdup("");
		out->address = pn_strdup("");
	} else {
		out->local = sv_written_local(canon->local);
		out->domain = written_domain(path, canon->domain);
		out->address = pn_asprintf("%s@%s", out->local, out->domain);
	}
	pn_addr_clear(&own);
	return 0;
}
