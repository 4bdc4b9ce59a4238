/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * policy - parse and look up the postern-tls policy file (see policy.h)
 *
 * The parser reads the whole file into memory, splits it into logical
 * lines (Postfix table rules: a line that starts with white space
 * continues the entry above), then each line into words. Each attribute
 * has one handler that validates its value; rules that involve two
 * attributes are checked once the line is complete, so an error always
 * names the line and the attribute at fault.
 */
#include "milters/tls/policy.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/domain.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;
	int code;
} versions[] = {
	{"SSLv2", 0x200}, {"SSLv3", 0x300}, {"TLSv1", 0x301}, {"TLSv1.0", 0x301},
	{"TLSv1.1", 0x302}, {"TLSv1.2", 0x303}, {"TLSv1.3", 0x304}, {NULL, 0}
};

static const char *level_names[] = {
	"", "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure", NULL
};

/* ptls_version_parse - "TLSv1.2" to its ordered code, 0 when unknown */
int ptls_version_parse(const char *s)
{
	int i;

	for (i = 0; s && versions[i].name; i++)
		if (strcasecmp(s, versions[i].name) == 0)
			return versions[i].code;
	return 0;
}

/* ptls_version_name - the canonical name of a version code */
const char *ptls_version_name(int v)
{
	int i;

	for (i = 0; versions[i].name; i++)
		if (versions[i].code == v)
			return versions[i].name;
	return "unknown";
}

/* ptls_level_parse - Postfix security level name to PTLS_LEVEL_*, -1 if unknown */
int ptls_level_parse(const char *s)
{
	int i;

	for (i = 1; level_names[i]; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* ptls_level_name - Postfix's name of a level ("" for UNSET) */
const char *ptls_level_name(int level)
{
	if (level < 0 || level > PTLS_LEVEL_SECURE)
		return "";
	return level_names[level];
}

/* ptls_action_name - the policy file's name of an action */
const char *ptls_action_name(ptls_action a)
{
	switch (a) {
	case PTLS_ACT_REJECT: return "reject";
	case PTLS_ACT_TEMPFAIL: return "tempfail";
	case PTLS_ACT_HOLD: return "hold";
	case PTLS_ACT_TAG: return "tag";
	case PTLS_ACT_LOG: return "log";
	}
	return "reject";
}

/* ptls_policy_export_level - the level postfix-map writes for p */
int ptls_policy_export_level(const ptls_policy *p)
{
	if (p->sts)	/* answered live by the socketmap; a file cannot follow it */
		return PTLS_LEVEL_UNSET;
	if (p->outbound != PTLS_LEVEL_UNSET)
		return p->outbound;
	if (p->direction & PTLS_DIR_OUTBOUND)
		return PTLS_LEVEL_ENCRYPT;
	return PTLS_LEVEL_UNSET;
}

/* ptls_patterns_match - does value match one glob of the list (NULL: all)? */
int ptls_patterns_match(char *const *patterns, const char *value)
{
	size_t i;

	if (patterns == NULL)
		return 1;
	if (value == NULL)
		return 0;
	for (i = 0; patterns[i]; i++)
		if (fnmatch(patterns[i], value, FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

/* ptls_strv_free - free a NULL-terminated string vector */
void ptls_strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* strv_push - append to a NULL-terminated vector */
static char **strv_push(char **v, size_t *n, char *s)
{
	v = pn_realloc(v, (*n + 2) * sizeof(char *));
	v[(*n)++] = s;
	v[*n] = NULL;
	return v;
}

/* split - the non-empty items of s between separator characters; NULL if one is empty */
static char **split(const char *s, const char *seps)
{
	char **v = NULL;
	size_t n = 0;
	const char *p = s, *end;

	for (;;) {
		end = p + strcspn(p, seps);
		if (end == p) {
			ptls_strv_free(v);
			return NULL;
		}
		v = strv_push(v, &n, pn_strndup(p, (size_t)(end - p)));
		if (*end == '\0')
			return v;
		p = end + 1;
	}
}

/* policy_free - one entry */
static void policy_free(ptls_policy *p)
{
	if (p == NULL)
		return;
	pn_free(p->key);
	pn_free(p->ciphers);
	ptls_strv_free(p->cipher_allow);
	ptls_strv_free(p->cipher_deny);
	pn_free(p->subject_text);
	pn_free(p->issuer_text);
	ptls_strv_free(p->subject);
	ptls_strv_free(p->issuer);
	pn_free(p->clients_text);
	pn_cidr_list_free(p->clients);
	pn_free(p->match);
	pn_free(p->outbound_ciphers);
	pn_free(p->outbound_exclude);
	pn_free(p);
}

/* ptls_policy_free - the whole set */
void ptls_policy_free(ptls_policy_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->count; i++)
		policy_free(s->items[i]);
	pn_free(s->items);
	pn_domain_map_free(s->map, NULL);
	pn_free(s->file);
	pn_free(s);
}

/* ptls_policy_lookup - the policy for a domain: exact, parents, then "*" */
const ptls_policy *ptls_policy_lookup(const ptls_policy_set *s, const char *domain)
{
	const ptls_policy *p;

	if (domain == NULL || *domain == '\0')
		return NULL;	/* the null sender has no domain, so no partner */
	p = pn_domain_map_lookup(s->map, domain, NULL);
	return p ? p : s->fallback;
}

/* The parser's state for one logical line. */
typedef struct parse_ctx {
	const char *file;
	unsigned line;
	char *err;
} parse_ctx;

/* fail - record the first error for this line (printf style) */
static int fail(parse_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parse_ctx *x, const char *fmt, ...)
{
	va_list ap, ap2;
	char *msg;
	int n;

	if (x->err)
		return -1;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	msg = pn_malloc(n > 0 ? (size_t)n + 1 : 1);
	msg[0] = '\0';
	if (n > 0)
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	va_end(ap);
	x->err = pn_asprintf("%s:%u: %s", x->file, x->line, msg);
	pn_free(msg);
	return -1;
}

/* bad_value - the usual "attribute = value: why" error */
static int bad_value(parse_ctx *x, const char *name, const char *value, const char *why)
{
	return fail(x, "attribute \"%s\" = \"%.200s\": %s", name, value, why);
}

/* yes_no - 1, 0, or -1 for anything else */
static int yes_no(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0)
		return 0;
	return -1;
}

/* all_in - every byte of s is in the allowed set */
static int all_in(const char *s, const char *allowed)
{
	return s[strspn(s, allowed)] == '\0';
}

#define CIPHER_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+*?"

/* set_ciphers - ciphers=A:B:!C (allowed names or globs, "!" excludes) */
static int set_ciphers(parse_ctx *x, ptls_policy *p, const char *name, const char *v)
{
	char **items = split(v, ":,");
	size_t i, na = 0, nd = 0;

	if (items == NULL)
		return bad_value(x, name, v, "empty cipher name in the list");
	for (i = 0; items[i]; i++) {
		const char *c = items[i][0] == '!' ? items[i] + 1 : items[i];
		if (*c == '\0' || !all_in(c, CIPHER_CHARS)) {
			fail(x, "attribute \"%s\" = \"%.200s\": \"%.100s\" is not a cipher name or "
			     "pattern (letters, digits, \"-_.+\" and the globs \"*?\")", name, v, items[i]);
			ptls_strv_free(items);
			return -1;
		}
		if (items[i][0] == '!')
			p->cipher_deny = strv_push(p->cipher_deny, &nd, pn_strdup(c));
		else
			p->cipher_allow = strv_push(p->cipher_allow, &na, pn_strdup(c));
	}
	ptls_strv_free(items);
	p->ciphers = pn_strdup(v);
	return 0;
}

/* set_patterns - cert_subject= / cert_issuer=: globs separated by "|" */
static int set_patterns(parse_ctx *x, const char *name, const char *v, char **text, char ***out)
{
	const unsigned char *s;

	for (s = (const unsigned char *)v; *s; s++)
		if (*s < 32 || *s == 127)
			return bad_value(x, name, v, "control character in the pattern");
	if ((*out = split(v, "|")) == NULL)
		return bad_value(x, name, v, "empty alternative in the \"|\" list");
	*text = pn_strdup(v);
	return 0;
}

/* check_fingerprints - match= for outbound=fingerprint: hex pairs joined by ":" */
static int check_fingerprints(parse_ctx *x, const char *v)
{
	char **fps = split(v, "|");
	size_t i, j, bytes;
	int rc = 0;

	if (fps == NULL)
		return bad_value(x, "match", v, "empty fingerprint in the \"|\" list");
	for (i = 0; fps[i] && rc == 0; i++) {
		const char *f = fps[i];
		size_t n = strlen(f);
		bytes = (n + 1) / 3;
		for (j = 0; j < n && rc == 0; j++) {
			int hex = (f[j] >= '0' && f[j] <= '9') || (f[j] >= 'a' && f[j] <= 'f')
				  || (f[j] >= 'A' && f[j] <= 'F');
			if ((j % 3 == 2) ? f[j] != ':' : !hex)
				rc = -1;
		}
		if (rc == 0 && (n % 3 != 2 || (bytes != 16 && bytes != 20 && bytes != 32
					       && bytes != 48 && bytes != 64)))
			rc = -1;
		if (rc < 0)
			fail(x, "attribute \"match\" = \"%.200s\": \"%.120s\" is not a certificate "
			     "fingerprint (hex byte pairs joined by \":\", e.g. the output of "
			     "openssl x509 -fingerprint -sha256)", v, f);
	}
	ptls_strv_free(fps);
	return rc;
}

/* check_match_names - match= for verify/secure: names and strategies joined by ":" */
static int check_match_names(parse_ctx *x, const char *v)
{
	char **items = split(v, ":");
	size_t i;
	int rc = 0;

	if (items == NULL)
		return bad_value(x, "match", v, "empty name in the \":\" list");
	for (i = 0; items[i] && rc == 0; i++)
		if (!all_in(items[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789.-_"))
			rc = fail(x, "attribute \"match\" = \"%.200s\": \"%.100s\" is neither a "
				  "domain name nor a strategy (hostname, nexthop, dot-nexthop)",
				  v, items[i]);
	ptls_strv_free(items);
	return rc;
}

/* set_attr - one name=value into p; duplicates were refused by the caller */
static int set_attr(parse_ctx *x, ptls_policy *p, const char *name, const char *v,
		    int *verify_given)
{
	long n;
	char *end;
	int i;

	if (strcmp(name, "tls") == 0) {
		if (strcasecmp(v, "required") == 0 || yes_no(v) == 1)
			p->tls_required = 1;
		else if (strcasecmp(v, "optional") == 0 || yes_no(v) == 0)
			p->tls_required = 0;
		else
			return bad_value(x, name, v, "want required or optional");
	} else if (strcmp(name, "min_version") == 0) {
		if ((p->min_version = ptls_version_parse(v)) == 0 || p->min_version == 0x200)
			return bad_value(x, name, v, "unknown TLS version (want SSLv3, TLSv1, "
					 "TLSv1.1, TLSv1.2 or TLSv1.3)");
	} else if (strcmp(name, "min_bits") == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < 1 || n > 65535)
			return bad_value(x, name, v, "want a number of bits from 1 to 65535");
		p->min_bits = (int)n;
	} else if (strcmp(name, "ciphers") == 0) {
		return set_ciphers(x, p, name, v);
	} else if (strcmp(name, "verify") == 0) {
		if ((i = yes_no(v)) < 0)
			return bad_value(x, name, v, "want yes or no");
		p->verify = i;
		*verify_given = 1;
	} else if (strcmp(name, "cert_subject") == 0) {
		return set_patterns(x, name, v, &p->subject_text, &p->subject);
	} else if (strcmp(name, "cert_issuer") == 0) {
		return set_patterns(x, name, v, &p->issuer_text, &p->issuer);
	} else if (strcmp(name, "clients") == 0) {
		char *why = NULL;
		if ((p->clients = pn_cidr_list_parse(v, &why)) == NULL) {
			bad_value(x, name, v, why ? why : "not a list of networks");
			pn_free(why);
			return -1;
		}
		if (pn_cidr_list_count(p->clients) == 0)
			return bad_value(x, name, v, "no network in the list");
		p->clients_text = pn_strdup(v);
	} else if (strcmp(name, "direction") == 0) {
		if (strcasecmp(v, "inbound") == 0)
			p->direction = PTLS_DIR_INBOUND;
		else if (strcasecmp(v, "outbound") == 0)
			p->direction = PTLS_DIR_OUTBOUND;
		else if (strcasecmp(v, "both") == 0)
			p->direction = PTLS_DIR_BOTH;
		else
			return bad_value(x, name, v, "want inbound, outbound or both");
	} else if (strcmp(name, "action") == 0) {
		static const ptls_action all[] = {PTLS_ACT_REJECT, PTLS_ACT_TEMPFAIL, PTLS_ACT_HOLD,
						  PTLS_ACT_TAG, PTLS_ACT_LOG};
		for (i = 0; i < 5; i++)
			if (strcasecmp(v, ptls_action_name(all[i])) == 0)
				break;
		if (i == 5)
			return bad_value(x, name, v, "want reject, tempfail, hold, tag or log");
		p->action = all[i];
	} else if (strcmp(name, "outbound") == 0) {
		if (strcasecmp(v, "sts") == 0) {
			p->sts = 1;	/* the partner's MTA-STS policy decides (sts.h) */
			p->outbound = PTLS_LEVEL_UNSET;
			return 0;
		}
		if ((i = ptls_level_parse(v)) < 0)
			return bad_value(x, name, v, "not a Postfix TLS security level (none, may, "
					 "encrypt, dane, dane-only, fingerprint, verify, secure) "
					 "or sts");
		p->sts = 0;
		p->outbound = i;
	} else if (strcmp(name, "match") == 0) {
		p->match = pn_strdup(v);	/* checked against the level later */
	} else if (strcmp(name, "outbound_ciphers") == 0) {
		if (strcasecmp(v, "high") && strcasecmp(v, "medium") && strcasecmp(v, "low")
		    && strcasecmp(v, "export") && strcasecmp(v, "null"))
			return bad_value(x, name, v, "not a Postfix cipher grade (high, medium, "
					 "low, export, null)");
		p->outbound_ciphers = pn_strdup(v);
		for (end = p->outbound_ciphers; *end; end++)
			*end = (char)(*end >= 'A' && *end <= 'Z' ? *end - 'A' + 'a' : *end);
	} else if (strcmp(name, "outbound_exclude") == 0) {
		char **items = split(v, ":");
		size_t k;
		if (items == NULL)
			return bad_value(x, name, v, "empty item in the \":\" list (Postfix table "
					 "values separate ciphers with \":\" only)");
		for (k = 0; items[k]; k++)
			if (!all_in(items[k], CIPHER_CHARS "!")) {
				ptls_strv_free(items);
				return bad_value(x, name, v, "not a \":\" list of OpenSSL cipher "
						 "names");
			}
		ptls_strv_free(items);
		p->outbound_exclude = pn_strdup(v);
	} else {
		return fail(x, "unknown attribute \"%.100s\" (see postern-tls.conf(5))", name);
	}
	return 0;
}

/* finish_policy - rules that involve more than one attribute */
static int finish_policy(parse_ctx *x, ptls_policy *p, int verify_given)
{
	int level = ptls_policy_export_level(p);

	if (p->subject || p->issuer) {
		if (verify_given && !p->verify)
			return fail(x, "attribute \"verify\" = \"no\": cert_subject and cert_issuer "
				    "are only known for a verified certificate");
		p->verify = 1;
	}
	if (p->sts && (p->match || p->outbound_ciphers || p->outbound_exclude))
		return fail(x, "attribute \"outbound\" = \"sts\": the published MTA-STS policy "
			    "decides; match=, outbound_ciphers= and outbound_exclude= do not apply");
	if (p->match) {
		if (p->outbound == PTLS_LEVEL_FINGERPRINT) {
			if (check_fingerprints(x, p->match) < 0)
				return -1;
		} else if (p->outbound == PTLS_LEVEL_VERIFY || p->outbound == PTLS_LEVEL_SECURE) {
			if (check_match_names(x, p->match) < 0)
				return -1;
		} else {
			return fail(x, "attribute \"match\" needs outbound=fingerprint, verify or "
				    "secure");
		}
	} else if (p->outbound == PTLS_LEVEL_FINGERPRINT) {
		return fail(x, "attribute \"outbound\" = \"fingerprint\" needs match= with the "
			    "certificate fingerprints");
	}
	if ((p->outbound_ciphers || p->outbound_exclude) && level == PTLS_LEVEL_UNSET)
		return fail(x, "attribute \"%s\" needs outbound= or direction=outbound|both",
			    p->outbound_ciphers ? "outbound_ciphers" : "outbound_exclude");
	if ((p->outbound_ciphers || p->outbound_exclude) && level == PTLS_LEVEL_NONE)
		return fail(x, "attribute \"%s\": outbound=none takes no attributes",
			    p->outbound_ciphers ? "outbound_ciphers" : "outbound_exclude");
	return 0;
}

/* next_word - one white-space separated word with "quoted" parts; NULL at the end */
static char *next_word(parse_ctx *x, const char **pp, int *quoted)
{
	const char *p = *pp;
	pn_buf b;

	*quoted = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#') {
		*pp = p;
		return NULL;
	}
	pn_buf_init(&b, PTLS_POLICY_LINE_MAX + 1);
	while (*p && *p != ' ' && *p != '\t') {
		if (*p == '"') {
			*quoted = 1;
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				pn_buf_putc(&b, *p);
			}
			if (*p != '"') {
				pn_buf_free(&b);
				fail(x, "unterminated \"quoted\" value");
				*pp = p;
				return NULL;
			}
			p++;
		} else {
			pn_buf_putc(&b, *p++);
		}
	}
	*pp = p;
	return pn_buf_steal(&b, NULL);
}

static const char *attr_names[] = {
	"tls", "min_version", "min_bits", "ciphers", "verify", "cert_subject", "cert_issuer",
	"clients", "direction", "action", "outbound", "match", "outbound_ciphers",
	"outbound_exclude", NULL
};

/* parse_entry - one logical line into a policy, or NULL with x->err */
static ptls_policy *parse_entry(parse_ctx *x, const char *text)
{
	ptls_policy *p;
	const char *s = text;
	char *word, *eq;
	unsigned seen = 0;
	int quoted, verify_given = 0, nattr = 0, i;

	if ((word = next_word(x, &s, &quoted)) == NULL)
		return NULL;	/* cannot happen: the caller gives non-blank text */
	if (quoted) {
		/* a domain needs no quotes, and "#..." would be a comment in Postfix's table */
		fail(x, "\"%.200s\": a domain key cannot be quoted", word);
		pn_free(word);
		return NULL;
	}
	p = pn_calloc(1, sizeof(*p));
	p->key = word;
	p->line = x->line;
	p->tls_required = 1;
	p->direction = PTLS_DIR_INBOUND;
	p->action = PTLS_ACT_REJECT;
	while (x->err == NULL && (word = next_word(x, &s, &quoted)) != NULL) {
		nattr++;
		if ((eq = strchr(word, '=')) == NULL || eq == word) {
			fail(x, "\"%.100s\": expected attribute=value", word);
			pn_free(word);
			break;
		}
		*eq = '\0';
		for (i = 0; attr_names[i]; i++)
			if (strcmp(word, attr_names[i]) == 0)
				break;
		if (attr_names[i] && (seen & (1u << i)))
			fail(x, "attribute \"%s\" given twice", word);
		else if (eq[1] == '\0')
			fail(x, "attribute \"%.100s\" has an empty value", word);
		else if (set_attr(x, p, word, eq + 1, &verify_given) == 0)
			seen |= 1u << i;
		pn_free(word);
	}
	if (x->err == NULL && nattr == 0)
		fail(x, "\"%.200s\" has no attributes (write tls=optional to exempt a domain)",
		     p->key);
	if (x->err == NULL)
		finish_policy(x, p, verify_given);
	if (x->err) {
		policy_free(p);
		return NULL;
	}
	return p;
}

/* ldh_problem - why a normalised key is no mail domain (RFC 5321 4.1.2:
 * letters, digits and inner hyphens, labels of 1..63, 253 in all), or NULL.
 * common/domain.h also lets "_" through, as DNS names may hold it; no MX
 * next hop does, so such a key is a typo that would never match. */
static const char *ldh_problem(const char *d)
{
	size_t label = 0;
	const char *p;

	if (strlen(d) > 253)
		return "longer than 253 characters";
	for (p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label > 63)
				return "a label longer than 63 characters";
			if (label > 0 && (p[-1] == '-' || p[-label] == '-'))
				return "a label that begins or ends with \"-\"";
			if (*p == '\0')
				return NULL;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return "a character other than letters, digits, \"-\" and \".\"";
		label++;
	}
}

/* add_entry - put p into the set under its key */
static int add_entry(parse_ctx *x, ptls_policy_set *s, ptls_policy *p)
{
	size_t i;
	char *lower, *norm;
	const char *why;
	int rc;

	if (strcmp(p->key, "*") == 0) {
		if (s->fallback)
			return fail(x, "\"*\" already defined at line %u", s->fallback->line);
		s->fallback = p;
	} else {
		if (strpbrk(p->key, "[]:@/*\"\\") != NULL)
			return fail(x, "\"%.200s\" is not a domain, \".domain\" or \"*\" (Postfix "
				    "next-hop forms such as [host]:port are not supported)", p->key);
		/* one form for the key and the mail: lower case, no trailing
		 * dot, U-labels as A-labels (common/domain.h) */
		norm = p->key[0] == '.' ? pn_domain_normalise(p->key + 1) : pn_domain_normalise(p->key);
		if (norm == NULL)
			return fail(x, "\"%.200s\" is not a domain, \".domain\" or \"*\"", p->key);
		if ((why = ldh_problem(norm)) != NULL) {
			pn_free(norm);
			return fail(x, "\"%.200s\" is not a domain name: %s", p->key, why);
		}
		lower = p->key[0] == '.' ? pn_asprintf(".%s", norm) : pn_strdup(norm);
		pn_free(norm);
		pn_free(p->key);
		p->key = lower;
		rc = pn_domain_map_add(s->map, p->key, p);
		if (rc == -2)
			return fail(x, "\"%.200s\" is not a domain, \".domain\" or \"*\"", p->key);
		if (rc == -1) {
			for (i = 0; i < s->count; i++)
				if (strcmp(s->items[i]->key, p->key) == 0)
					return fail(x, "\"%s\" already defined at line %u", p->key,
						    s->items[i]->line);
			return fail(x, "\"%s\" already defined", p->key);
		}
	}
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->items = pn_realloc(s->items, s->cap * sizeof(*s->items));
	}
	p->file = s->file;
	s->items[s->count++] = p;
	return 0;
}

/* is_blank_or_comment - a physical line that neither starts nor continues an entry */
static int is_blank_or_comment(const char *l, size_t n)
{
	size_t i = 0;

	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	return i == n || l[i] == '#';
}

/* flush_entry - parse the logical line gathered so far */
static int flush_entry(parse_ctx *x, ptls_policy_set *s, pn_buf *logical, unsigned start)
{
	ptls_policy *p;

	if (pn_buf_len(logical) == 0)
		return 0;
	x->line = start;
	if ((p = parse_entry(x, pn_buf_str(logical))) == NULL)
		return -1;
	if (add_entry(x, s, p) < 0) {
		if (s->fallback == p)
			s->fallback = NULL;
		policy_free(p);
		return -1;
	}
	pn_buf_reset(logical);
	return 0;
}

/* ptls_policy_parse - a whole policy text (len bytes) named name in messages */
ptls_policy_set *ptls_policy_parse(const char *text, size_t len, const char *name, char **err)
{
	ptls_policy_set *s = pn_calloc(1, sizeof(*s));
	parse_ctx x = {name ? name : "(string)", 0, NULL};
	pn_buf logical;
	size_t pos = 0;
	unsigned lineno = 0, start = 0;

	*err = NULL;
	s->file = pn_strdup(x.file);
	s->map = pn_domain_map_new();
	pn_buf_init(&logical, PTLS_POLICY_LINE_MAX);
	if (len > PTLS_POLICY_FILE_MAX) {
		x.line = 1;
		fail(&x, "file larger than %d bytes", PTLS_POLICY_FILE_MAX);
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (x.err == NULL && pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;

		pos += n + (nl ? 1 : 0);
		lineno++;
		x.line = lineno;
		if (memchr(l, '\0', n)) {
			fail(&x, "NUL byte in the file");
			break;
		}
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (is_blank_or_comment(l, n))
			continue;
		if (l[0] == ' ' || l[0] == '\t') {
			if (pn_buf_len(&logical) == 0) {
				fail(&x, "line starts with white space but continues no entry");
				break;
			}
			if (pn_buf_putc(&logical, ' ') < 0 || pn_buf_append(&logical, l, n) < 0) {
				x.line = start;
				fail(&x, "entry longer than %d bytes", PTLS_POLICY_LINE_MAX);
			}
			continue;
		}
		if (flush_entry(&x, s, &logical, start) < 0)
			break;
		start = lineno;
		if (pn_buf_append(&logical, l, n) < 0) {
			x.line = start;
			fail(&x, "entry longer than %d bytes", PTLS_POLICY_LINE_MAX);
		}
	}
	if (x.err == NULL)
		flush_entry(&x, s, &logical, start);
	pn_buf_free(&logical);
	if (x.err) {
		*err = x.err;
		ptls_policy_free(s);
		return NULL;
	}
	return s;
}

/* ptls_policy_load - read and parse a policy file, remembering its identity */
ptls_policy_set *ptls_policy_load(const char *path, char **err)
{
	ptls_policy_set *s;
	struct stat st;
	char *text;
	size_t len;
	int fd;

	*err = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		*err = pn_asprintf("%s: cannot read the TLS policy: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	text = pn_read_fd(fd, PTLS_POLICY_FILE_MAX, &len);
	close(fd);
	if (text == NULL) {
		if (errno == EFBIG)
			*err = pn_asprintf("%s: file larger than %d bytes", path,
					   PTLS_POLICY_FILE_MAX);
		else
			*err = pn_asprintf("%s: cannot read the TLS policy: %s", path,
					   strerror(errno));
		return NULL;
	}
	s = ptls_policy_parse(text, len, path, err);
	pn_free(text);
	if (s)
		pn_filestamp_set(&s->stamp, &st);
	return s;
}
