/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	policy - the TLS policy file of postern-tls: parse, validate, look up
 * SYNOPSIS
 *	#include "milters/tls/policy.h"
 *
 *	ptls_policy_set *ptls_policy_load(const char *path, char **err);
 *	ptls_policy_set *ptls_policy_parse(const char *text, size_t len,
 *	                                   const char *name, char **err);
 *	const ptls_policy *ptls_policy_lookup(const ptls_policy_set *s,
 *	                                      const char *domain);
 *	void ptls_policy_free(ptls_policy_set *s);
 *
 *	int ptls_version_parse(const char *s);
 *	const char *ptls_version_name(int v);
 *	int ptls_level_parse(const char *s);
 *	const char *ptls_level_name(int level);
 *	int ptls_policy_export_level(const ptls_policy *p);
 *	const char *ptls_action_name(ptls_action a);
 *	int ptls_patterns_match(char *const *patterns, const char *value);
 * DESCRIPTION
 *	One line per domain, in the style of a Postfix lookup table source:
 *
 *	    # comment
 *	    partner.example   min_version=TLSv1.2 min_bits=128
 *	    .bank.example     verify=yes cert_issuer="Bank Issuing CA"
 *	                      clients=192.0.2.0/24 outbound=secure
 *	    *                 min_version=TLSv1.2 action=tag
 *
 *	The key is a domain (exactly that domain), ".domain" (every
 *	subdomain, not the domain itself) or "*" (the fallback for every
 *	domain no other line matches). Attributes are name=value words
 *	separated by white space; a value holding white space is written in
 *	double quotes (\" and \\ escape inside them). A line that starts
 *	with white space continues the one above; a line whose first
 *	non-blank character is "#", and everything from a word that starts
 *	with "#", is a comment. Attributes (see postern-tls.conf(5)):
 *
 *	tls=required|optional, min_version=SSLv3|TLSv1|TLSv1.1|TLSv1.2|TLSv1.3,
 *	min_bits=N, ciphers=LIST (":" or "," separated OpenSSL cipher names
 *	or globs; "!" before one excludes it), verify=yes|no,
 *	cert_subject=PATTERNS, cert_issuer=PATTERNS ("|" separated globs,
 *	compared without regard to case; either implies verify=yes),
 *	clients=CIDRS, direction=inbound|outbound|both, action=reject|
 *	tempfail|hold|tag|log, outbound=LEVEL (a Postfix TLS security level),
 *	match=VALUE, outbound_ciphers=GRADE, outbound_exclude=LIST.
 *
 *	Every line is validated, cross-attribute rules included (match=
 *	needs a level that uses it, fingerprint needs match=, ...). Keys
 *	are matched like Postfix's smtp_tls_policy_maps (common/domain_map.h).
 *
 *	A set is immutable once parsed: lookups from many threads need no
 *	lock. Policies keep file order in s->items for the exporters.
 *
 *	ptls_policy_lookup() answers NULL for an empty domain (the null
 *	sender): "*" covers every domain, not mail without one.
 *
 *	ptls_version_parse() maps "TLSv1.2" (any case; "TLSv1.0" too) to
 *	an ordered code (SSLv3 = 0x300 ... TLSv1.3 = 0x304), 0 when unknown.
 *	ptls_level_parse() maps a Postfix level name to PTLS_LEVEL_*, -1 when
 *	unknown. ptls_policy_export_level() is the level postfix-map exports
 *	for a policy: outbound= when given, "encrypt" when direction covers
 *	outbound, else PTLS_LEVEL_UNSET (not exported).
 *	ptls_patterns_match() answers whether value matches one of the globs
 *	(fnmatch, case-insensitive); a NULL list matches everything.
 * DIAGNOSTICS
 *	The parse functions return NULL and set *err (free with pn_free) to
 *	one message naming file:line, the attribute and what is wrong, e.g.
 *	    /etc/postern/tls_policy:3: attribute "min_version" = "TLSv1.5":
 *	    unknown TLS version (want SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)
 *	Reading stops at the first error.
 */
#ifndef PTLS_POLICY_H
#define PTLS_POLICY_H

#include <stddef.h>
#include <sys/types.h>

#include "common/cidr.h"
#include "common/domain_map.h"
#include "common/filestamp.h"

/* The longest logical line and the largest file a policy may have. */
#define PTLS_POLICY_LINE_MAX (64 * 1024)
#define PTLS_POLICY_FILE_MAX (64 * 1024 * 1024)

#define PTLS_DIR_INBOUND	1	/* the sender's domain is the partner */
#define PTLS_DIR_OUTBOUND	2	/* a recipient's domain is the partner */
#define PTLS_DIR_BOTH		3

typedef enum ptls_action {
	PTLS_ACT_REJECT,	/* 5xx at MAIL or RCPT */
	PTLS_ACT_TEMPFAIL,	/* 4xx at MAIL or RCPT */
	PTLS_ACT_HOLD,		/* Postfix hold queue (quarantine at end of message) */
	PTLS_ACT_TAG,		/* add a header at end of message */
	PTLS_ACT_LOG		/* log only (for trying a policy out) */
} ptls_action;

/* Postfix TLS security levels, in Postfix's order of increasing security. */
#define PTLS_LEVEL_UNSET	0
#define PTLS_LEVEL_NONE		1
#define PTLS_LEVEL_MAY		2
#define PTLS_LEVEL_ENCRYPT	3
#define PTLS_LEVEL_DANE		4
#define PTLS_LEVEL_DANE_ONLY	5
#define PTLS_LEVEL_FINGERPRINT	6
#define PTLS_LEVEL_VERIFY	7
#define PTLS_LEVEL_SECURE	8

typedef struct ptls_policy {
	char *key;		/* "partner.example", ".bank.example" or "*" */
	const char *file;	/* the set's file name */
	unsigned line;		/* where the entry starts */
	int tls_required;	/* tls=required (default 1) */
	int min_version;	/* 0: any */
	int min_bits;		/* 0: any */
	char *ciphers;		/* as written, or NULL */
	char **cipher_allow;	/* globs the cipher must match (NULL: any) */
	char **cipher_deny;	/* globs it must not match (NULL: none) */
	int verify;		/* a verified client certificate is needed */
	char *subject_text, *issuer_text;	/* as written, or NULL */
	char **subject;		/* globs, or NULL */
	char **issuer;
	char *clients_text;	/* as written, or NULL */
	pn_cidr_list *clients;	/* NULL: any client */
	unsigned direction;	/* PTLS_DIR_* */
	ptls_action action;
	int outbound;		/* PTLS_LEVEL_*, UNSET when not given */
	int sts;		/* outbound=sts: the partner's MTA-STS policy (sts.h) */
	char *match;		/* Postfix match= value, or NULL */
	char *outbound_ciphers;	/* Postfix cipher grade, or NULL */
	char *outbound_exclude;	/* Postfix exclude= list, or NULL */
} ptls_policy;

typedef struct ptls_policy_set {
	char *file;		/* name used in messages */
	ptls_policy **items;	/* file order */
	size_t count, cap;
	pn_domain_map *map;	/* key -> policy (the map does not own them) */
	ptls_policy *fallback;	/* the "*" line, or NULL */
	pn_filestamp stamp;	/* the file version read (ok = 0: parsed from memory) */
} ptls_policy_set;

ptls_policy_set *ptls_policy_load(const char *path, char **err);
ptls_policy_set *ptls_policy_parse(const char *text, size_t len, const char *name, char **err);
const ptls_policy *ptls_policy_lookup(const ptls_policy_set *s, const char *domain);
void ptls_policy_free(ptls_policy_set *s);

int ptls_version_parse(const char *s);
const char *ptls_version_name(int v);
int ptls_level_parse(const char *s);
const char *ptls_level_name(int level);
int ptls_policy_export_level(const ptls_policy *p);
const char *ptls_action_name(ptls_action a);
int ptls_patterns_match(char *const *patterns, const char *value);
void ptls_strv_free(char **v);

#endif
