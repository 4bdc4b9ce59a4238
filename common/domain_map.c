/* SPDX-License-Identifier: BSD-2-Clause */
/* domain_map - domain and parent-domain lookups (see domain_map.h) */
#include "common/domain_map.h"
#include "common/alloc.h"
#include "common/domain.h"

#include <stdint.h>
#include <string.h>

struct slot {
	char *key;		/* NULL: empty slot */
	size_t len;
	uint64_t hash;
	void *value;
};

struct pn_domain_map {
	struct slot *slots;
	size_t cap;		/* a power of two */
	size_t count;
	void *def;
};

/* lower - ASCII only: tolower() depends on the locale */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* hash - FNV-1a over the lower-cased bytes, so lookups need no copy */
static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= lower((unsigned char)s[i]);
		h *= 1099511628211ULL;
	}
	return h;
}

/* same - does a stored (lower-case) key equal s[0..n) ignoring case? */
static int same(const struct slot *sl, uint64_t h, const char *s, size_t n)
{
	size_t i;

	if (sl->hash != h || sl->len != n)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)sl->key[i] != lower((unsigned char)s[i]))
			return 0;
	return 1;
}

/* find - the slot holding s[0..n), or the empty slot where it would go */
static struct slot *find(const pn_domain_map *m, const char *s, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1), probes;

	/* the table is never full, so an empty slot ends every probe */
	for (probes = 0; probes < m->cap; probes++) {
		struct slot *sl = &m->slots[i];
		if (sl->key == NULL || same(sl, h, s, n))
			return sl;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

/* pn_domain_map_new - empty map */
pn_domain_map *pn_domain_map_new(void)
{
	pn_domain_map *m = pn_calloc(1, sizeof(*m));

	m->cap = 16;
	m->slots = pn_calloc(m->cap, sizeof(*m->slots));
	return m;
}

/* grow - double the table, keeping the load factor at most 1/2 */
static void grow(pn_domain_map *m)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap, i;

	m->cap *= 2;
	m->slots = pn_calloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < oldcap; i++)
		if (old[i].key != NULL)
			*find(m, old[i].key, old[i].len, old[i].hash) = old[i];
	pn_free(old);
}

/* valid_key - "domain" or ".domain" with non-empty labels, no white space */
static int valid_key(const char *k, size_t n)
{
	size_t i, label = 0;

	if (n > 0 && k[0] == '.') {
		k++;
		n--;
	}
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c <= ' ' || c == 0x7f)
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

/* normalise_key - "domain" or ".domain" in the one form of common/domain.h, or NULL */
static char *normalise_key(const char *key)
{
	char *d, *out;

	if (key[0] != '.')
		return pn_domain_normalise(key);
	if ((d = pn_domain_normalise(key + 1)) == NULL)
		return NULL;
	out = pn_asprintf(".%s", d);
	pn_free(d);
	return out;
}

/* pn_domain_map_add - add key; -1 duplicate, -2 not a domain pattern */
int pn_domain_map_add(pn_domain_map *m, const char *key, void *value)
{
	char *norm = normalise_key(key);
	size_t n;
	struct slot *sl;
	uint64_t h;

	if (norm == NULL || !valid_key(norm, n = strlen(norm))) {
		pn_free(norm);
		return -2;
	}
	h = hash(norm, n);
	sl = find(m, norm, n, h);
	if (sl->key != NULL) {
		pn_free(norm);
		return -1;
	}
	if ((m->count + 1) * 2 > m->cap) {
		grow(m);
		sl = find(m, norm, n, h);
	}
	sl->key = norm;
	sl->len = n;
	sl->hash = h;
	sl->value = value;
	m->count++;
	return 0;
}

/* pn_domain_map_set_default - value for lookups that match nothing */
void pn_domain_map_set_default(pn_domain_map *m, void *value)
{
	m->def = value;
}

/* probe - look up one exact key string */
static const struct slot *probe(const pn_domain_map *m, const char *s, size_t n)
{
	const struct slot *sl = find(m, s, n, hash(s, n));

	return sl != NULL && sl->key != NULL ? sl : NULL;
}

/* lookup_ascii - most specific match for an ASCII domain, or NULL */
static const struct slot *lookup_ascii(const pn_domain_map *m, const char *domain)
{
	const struct slot *sl = NULL;
	size_t n = strlen(domain), i;

	if (n > 1 && domain[n - 1] == '.')
		n--;
	if (n > 0 && domain[0] != '.') {
		sl = probe(m, domain, n);
		/* each "." starts the next less specific parent pattern */
		for (i = 0; sl == NULL && i < n; i++)
			if (domain[i] == '.')
				sl = probe(m, domain + i, n - i);
	}
	return sl;
}

/* pn_domain_map_lookup - most specific match for domain, else the default */
void *pn_domain_map_lookup(const pn_domain_map *m, const char *domain,
			   const char **matched_key)
{
	const struct slot *sl = NULL;
	const char *p;
	char *norm;

	for (p = domain; *p && (unsigned char)*p < 0x80; p++)
		;
	if (*p == '\0') {
		sl = lookup_ascii(m, domain);
	} else if ((norm = pn_domain_normalise(domain)) != NULL) {
		/* a U-label: its A-label is what the keys hold */
		sl = lookup_ascii(m, norm);
		pn_free(norm);
	}
	if (matched_key != NULL)
		*matched_key = sl ? sl->key : NULL;
	return sl ? sl->value : m->def;
}

/* pn_domain_map_count - number of keys */
size_t pn_domain_map_count(const pn_domain_map *m)
{
	return m->count;
}

/* pn_domain_map_free - free the map, its keys and (with free_value) values */
void pn_domain_map_free(pn_domain_map *m, void (*free_value)(void *))
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key == NULL)
			continue;
		if (free_value != NULL && m->slots[i].value != NULL)
			free_value(m->slots[i].value);
		pn_free(m->slots[i].key);
	}
	if (free_value != NULL && m->def != NULL)
		free_value(m->def);
	pn_free(m->slots);
	pn_free(m);
}
