/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	postfix_map - the policy as a Postfix smtp_tls_policy_maps table, and
 *	the check of an existing table against the policy
 * SYNOPSIS
 *	#include "milters/tls/postfix_map.h"
 *
 *	void ptls_postfix_map_write(const ptls_policy_set *s, FILE *out);
 *	int  ptls_postfix_map_entry(const ptls_policy *p, pn_buf *value);
 *	const ptls_policy *ptls_postfix_map_find(const ptls_policy_set *s,
 *	                                         const char *key);
 *	int  ptls_postfix_map_check(const ptls_policy_set *s, const char *text,
 *	                            size_t len, const char *name, FILE *out,
 *	                            char **err);
 * DESCRIPTION
 *	A milter cannot change how Postfix delivers; Postfix's
 *	smtp_tls_policy_maps does. ptls_postfix_map_write() prints, for
 *	every policy line whose outbound level is set (outbound=, or
 *	direction=outbound|both, which exports "encrypt"), a table line
 *	ready for postmap(1):
 *
 *	    KEY  LEVEL [protocols=>=VERSION] [ciphers=GRADE] [exclude=LIST]
 *	         [match=...]
 *
 *	protocols= comes from min_version (Postfix >= 3.6 syntax), ciphers=
 *	from outbound_ciphers, exclude= from outbound_exclude, match= as
 *	given. min_bits has no per-domain Postfix setting: it becomes the
 *	weakest cipher grade whose every cipher has that many bits (medium
 *	up to 112, high up to 128; outbound_ciphers is raised to it), and a
 *	comment says so; above 128 bits no grade is enough, and the comment
 *	and the check say that too. Attributes that only the milter checks
 *	(ciphers, verify, cert_subject, cert_issuer, clients) are named in a
 *	comment: nothing of a policy line disappears without a word. Keys keep Postfix's meaning (".example.com" matches
 *	subdomains). An internationalised key is written twice, as its
 *	A-label and as its U-label: Postfix looks up an SMTPUTF8 next hop as
 *	written. Lines that are not exported, and the "*" fallback
 *	(which a table cannot express), appear as comments; for "*" the
 *	comment gives the main.cf settings that have the same effect.
 *
 *	ptls_postfix_map_entry() appends the value of p's table line
 *	("LEVEL attr=v ...", the line without its key) to value and returns
 *	the exported level, or PTLS_LEVEL_UNSET (nothing appended) for a
 *	line that is not exported. ptls_postfix_map_find() is the exported
 *	line whose key is exactly key (a normalised domain or ".domain"),
 *	never "*": what an exact lookup of key in the written table finds.
 *	The table writer and the live socketmap (socketmap.h) both use them,
 *	so a file and the socketmap always give Postfix the same answer.
 *
 *	ptls_postfix_map_check() reads the source text of a Postfix table
 *	(name: its file name, for messages) and, for every exported policy
 *	line, finds the entry Postfix would use for that key (the key
 *	itself, then parent ".domain" keys; table keys are normalised like
 *	policy keys, and every spelling of the key found is checked). It
 *	prints one line per
 *	weakness: no entry, a weaker level (a level that may fall back to
 *	plain text - none, may, dane - is weaker than any mandatory one;
 *	verify is weaker than secure, fingerprint and dane-only), a lower
 *	or missing protocols= bound, a lower or missing cipher grade (for
 *	outbound_ciphers or min_bits), a min_bits above 128 (which no grade
 *	guarantees), a missing exclusion, or a different match= list.
 * DIAGNOSTICS
 *	ptls_postfix_map_check() returns the number of weaknesses printed,
 *	or -1 with *err (pn_free) when the table cannot be parsed (NUL byte,
 *	a continuation line before any entry, an entry without a value).
 */
#ifndef PTLS_POSTFIX_MAP_H
#define PTLS_POSTFIX_MAP_H

#include <stddef.h>
#include <stdio.h>

#include "common/buf.h"
#include "milters/tls/policy.h"

void ptls_postfix_map_write(const ptls_policy_set *s, FILE *out);
int ptls_postfix_map_entry(const ptls_policy *p, pn_buf *value);
const ptls_policy *ptls_postfix_map_find(const ptls_policy_set *s, const char *key);
int ptls_postfix_map_check(const ptls_policy_set *s, const char *text, size_t len,
			   const char *name, FILE *out, char **err);

#endif
