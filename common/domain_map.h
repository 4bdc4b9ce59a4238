/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	domain_map - Postfix-table style lookups by domain and parent domain
 * SYNOPSIS
 *	#include "common/domain_map.h"
 *
 *	pn_domain_map *pn_domain_map_new(void);
 *	int pn_domain_map_add(pn_domain_map *m, const char *key, void *value);
 *	void pn_domain_map_set_default(pn_domain_map *m, void *value);
 *	void *pn_domain_map_lookup(const pn_domain_map *m, const char *domain,
 *	                           const char **matched_key);
 *	size_t pn_domain_map_count(const pn_domain_map *m);
 *	void pn_domain_map_free(pn_domain_map *m, void (*free_value)(void *));
 * DESCRIPTION
 *	A map from domain keys to caller values, matched the way Postfix
 *	matches smtp_tls_policy_maps: the key "example.com" matches exactly
 *	that domain; the key ".example.com" matches every subdomain
 *	(a.example.com, x.y.example.com) but not example.com itself.
 *
 *	pn_domain_map_lookup() ignores case and one trailing dot, tries the
 *	domain itself first, then each parent from the most specific to the
 *	least: for a.b.c it tries "a.b.c", ".b.c", ".c". The first hit's
 *	value is returned and, when matched_key is not NULL, *matched_key
 *	points at the stored key (lower-cased, without a trailing dot; it
 *	lives as long as the map). With no hit the result is the default
 *	value (NULL unless set) and *matched_key is NULL. A domain that is
 *	empty or starts with a dot matches nothing.
 *
 *	Keys are stored in the one form of common/domain.h (lower case,
 *	without one trailing dot, U-labels as A-labels), so "Example.COM."
 *	and "example.com" are the same key, and so are "bücher.example" and
 *	"xn--bcher-kva.example". A looked-up domain with non-ASCII bytes is
 *	converted the same way first (this lookup allocates); one that is no
 *	domain name in any form matches nothing (the default). The map owns its
 *	values and the default: pn_domain_map_free() passes each of them
 *	once to free_value (when not NULL), so they must be distinct.
 *
 *	The map is built once (add, set_default) and is then read-only:
 *	lookups and count change nothing, so any number of threads may use
 *	a finished map at the same time without locks. Building is not
 *	thread-safe. The table is an open-addressing hash that grows as
 *	keys are added; ASCII lookups allocate nothing.
 * DIAGNOSTICS
 *	pn_domain_map_add() returns 0; -1 when the key is already present
 *	(the map is unchanged and still owns only the first value; the
 *	caller reports file:line and frees its value); -2 when the key is
 *	not a domain pattern (empty, ".", empty label, white space or
 *	control characters, a U-label that IDNA 2008 refuses).
 */
#ifndef PN_DOMAIN_MAP_H
#define PN_DOMAIN_MAP_H

#include <stddef.h>

typedef struct pn_domain_map pn_domain_map;

pn_domain_map *pn_domain_map_new(void);
int pn_domain_map_add(pn_domain_map *m, const char *key, void *value);
void pn_domain_map_set_default(pn_domain_map *m, void *value);
void *pn_domain_map_lookup(const pn_domain_map *m, const char *domain,
			   const char **matched_key);
size_t pn_domain_map_count(const pn_domain_map *m);
void pn_domain_map_free(pn_domain_map *m, void (*free_value)(void *));

#endif
