/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postfix_map - write and check Postfix smtp_tls_policy_maps tables (see postfix_map.h)
 */
#include "milters/tls/postfix_map.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/domain.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest logical line read from a Postfix table. */
#define TABLE_LINE_MAX (64 * 1024)

/* Postfix cipher grades, weakest first; null has no encryption at all. */
static const char *const grades[] = {"null", "export", "low", "medium", "high", NULL};
#define GRADE_MEDIUM 3
#define GRADE_HIGH 4

/* Strongest key every cipher of Postfix's "medium" grade has (OpenSSL's
 * MEDIUM holds 3DES, 112 bits) and of "high" (AES, Camellia, ARIA,
 * ChaCha20: 128 bits and more). Nothing per domain asks for more. */
#define MEDIUM_MIN_BITS 112
#define HIGH_MIN_BITS 128

/* grade_rank - index of a Postfix cipher grade, -1 for none or unknown */
static int grade_rank(const char *g)
{
	int i;

	for (i = 0; g && grades[i]; i++)
		if (strcasecmp(g, grades[i]) == 0)
			return i;
	return -1;
}

/* bits_grade - the weakest grade whose every cipher has min_bits (-1: none
 * needed); above 128 bits "high" is the nearest, and not enough */
static int bits_grade(int min_bits)
{
	if (min_bits <= 0)
		return -1;
	return min_bits <= MEDIUM_MIN_BITS ? GRADE_MEDIUM : GRADE_HIGH;
}

/* export_grade - the ciphers= grade for p: outbound_ciphers, raised to what
 * min_bits needs (Postfix has no per-domain bit minimum); -1 for none */
static int export_grade(const ptls_policy *p)
{
	int given = grade_rank(p->outbound_ciphers), needed = bits_grade(p->min_bits);

	return needed > given ? needed : given;
}

/* entry_attrs - " protocols=... ciphers=... exclude=... match=..." for p at level */
static void entry_attrs(const ptls_policy *p, int level, pn_buf *out)
{
	int grade = export_grade(p);

	if (level == PTLS_LEVEL_NONE)
		return;		/* Postfix: "No additional attributes are supported at this level" */
	if (p->min_version)
		pn_buf_printf(out, " protocols=>=%s", ptls_version_name(p->min_version));
	if (grade >= 0)
		pn_buf_printf(out, " ciphers=%s", grades[grade]);
	if (p->outbound_exclude)
		pn_buf_printf(out, " exclude=%s", p->outbound_exclude);
	if (p->match)
		pn_buf_printf(out, " match=%s", p->match);
}

/* u_label_key - the Unicode spelling of a key with A-labels, or NULL
 *
 * Postfix looks an SMTPUTF8 recipient's next hop up as written, in UTF-8,
 * so an internationalised partner needs its key in both forms.
 */
static char *u_label_key(const char *key)
{
	const char *d = key[0] == '.' ? key + 1 : key;
	char *u = NULL, *out = NULL;

	if (strstr(d, "xn--") == NULL)
		return NULL;
	if (idn2_to_unicode_8z8z(d, &u, 0) == IDN2_OK && u != NULL && strcmp(u, d) != 0)
		out = pn_asprintf("%s%s", key[0] == '.' ? "." : "", u);
	free(u);	/* libidn2 allocates with malloc */
	return out;
}

/* write_notes - comment lines for what of p the table cannot say as the
 * policy does: nothing of a policy line disappears without a word */
static void write_notes(const ptls_policy *p, int level, FILE *out)
{
	int grade = export_grade(p);
	pn_buf milter_only;

	if (p->min_bits && level == PTLS_LEVEL_NONE)
		fprintf(out, "# %s (line %u): min_bits=%d not exported: level none sends plain "
			"text\n", p->key, p->line, p->min_bits);
	else if (p->min_bits > HIGH_MIN_BITS)
		fprintf(out, "# %s (line %u): min_bits=%d has no Postfix equivalent; exported as "
			"ciphers=high, which still allows %d-bit ciphers\n", p->key, p->line,
			p->min_bits, HIGH_MIN_BITS);
	else if (p->min_bits)
		fprintf(out, "# %s (line %u): min_bits=%d exported as ciphers=%s (every cipher of "
			"that grade has %d bits or more)\n", p->key, p->line, p->min_bits,
			grades[grade], grade == GRADE_HIGH ? HIGH_MIN_BITS : MEDIUM_MIN_BITS);
	if (p->min_bits && level != PTLS_LEVEL_NONE && p->outbound_ciphers
	    && grade != grade_rank(p->outbound_ciphers))
		fprintf(out, "# %s (line %u): outbound_ciphers=%s raised to %s for min_bits=%d\n",
			p->key, p->line, p->outbound_ciphers, grades[grade], p->min_bits);
	/* requirements on the session that brings mail in: the milter's */
	pn_buf_init(&milter_only, 0);
	if (p->ciphers)
		pn_buf_puts(&milter_only, " ciphers");
	if (p->verify && level != PTLS_LEVEL_VERIFY && level != PTLS_LEVEL_SECURE)
		pn_buf_puts(&milter_only, " verify");
	if (p->subject_text)
		pn_buf_puts(&milter_only, " cert_subject");
	if (p->issuer_text)
		pn_buf_puts(&milter_only, " cert_issuer");
	if (p->clients_text)
		pn_buf_puts(&milter_only, " clients");
	if (pn_buf_len(&milter_only))
		fprintf(out, "# %s (line %u): not exported, checked by the milter on incoming "
			"sessions only:%s\n", p->key, p->line, pn_buf_str(&milter_only));
	pn_buf_free(&milter_only);
}

/* ptls_postfix_map_entry - the table value of p: "level attr=v ..." */
int ptls_postfix_map_entry(const ptls_policy *p, pn_buf *value)
{
	int level = ptls_policy_export_level(p);

	if (level == PTLS_LEVEL_UNSET)
		return level;
	pn_buf_puts(value, ptls_level_name(level));
	entry_attrs(p, level, value);
	return level;
}

/* ptls_postfix_map_find - the exported line whose key is exactly key (normalised) */
const ptls_policy *ptls_postfix_map_find(const ptls_policy_set *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		if (ptls_policy_export_level(s->items[i]) != PTLS_LEVEL_UNSET
		    && strcmp(s->items[i]->key, "*") != 0 && strcmp(s->items[i]->key, key) == 0)
			return s->items[i];
	return NULL;
}

/* ptls_postfix_map_write - the policy as an smtp_tls_policy_maps table */
void ptls_postfix_map_write(const ptls_policy_set *s, FILE *out)
{
	size_t i, width = 0;
	pn_buf b;
	char *u;

	for (i = 0; i < s->count; i++)
		if (ptls_policy_export_level(s->items[i]) != PTLS_LEVEL_UNSET
		    && strcmp(s->items[i]->key, "*") != 0 && strlen(s->items[i]->key) > width)
			width = strlen(s->items[i]->key);
	fprintf(out, "# Postfix smtp_tls_policy_maps table written by postern-tls from %s.\n"
		"# Do not edit: change the policy and run postern-tls postfix-map again.\n"
		"# main.cf: smtp_tls_policy_maps = hash:/etc/postfix/tls_policy\n"
		"# then:    postmap hash:/etc/postfix/tls_policy\n", s->file);
	pn_buf_init(&b, 0);
	for (i = 0; i < s->count; i++) {
		const ptls_policy *p = s->items[i];
		int level = ptls_policy_export_level(p);
		if (level == PTLS_LEVEL_UNSET && p->sts) {
			/* a file cannot follow a partner's published policy */
			fprintf(out, "# %s (line %u): outbound=sts: MTA-STS, answered by the policy "
				"socketmap only, not exported\n", p->key, p->line);
			continue;
		}
		if (level == PTLS_LEVEL_UNSET) {
			fprintf(out, "# %s (line %u): inbound only, not exported\n", p->key, p->line);
			continue;
		}
		pn_buf_reset(&b);
		ptls_postfix_map_entry(p, &b);
		write_notes(p, level, out);
		if (strcmp(p->key, "*") == 0) {
			fprintf(out, "# * (line %u): a table has no key for every domain; in main.cf "
				"set smtp_tls_security_level = %s", p->line, ptls_level_name(level));
			if (level != PTLS_LEVEL_NONE && p->min_version)
				fprintf(out, ", smtp_tls_mandatory_protocols = >=%s",
					ptls_version_name(p->min_version));
			if (level != PTLS_LEVEL_NONE && export_grade(p) >= 0)
				fprintf(out, ", smtp_tls_mandatory_ciphers = %s",
					grades[export_grade(p)]);
			fputc('\n', out);
			continue;
		}
		fprintf(out, "%-*s  %s\n", (int)width, p->key, pn_buf_str(&b));
		if ((u = u_label_key(p->key)) != NULL) {
			fprintf(out, "%-*s  %s\n", (int)width, u, pn_buf_str(&b));
			pn_free(u);
		}
	}
	pn_buf_free(&b);
}

/* One entry of the Postfix table being checked. */
typedef struct table_entry {
	char *key;		/* normalised (common/domain.h) when a domain */
	unsigned line;
	char *level;		/* first word of the value */
	char *protocols, *ciphers, *exclude;
	pn_buf match;		/* every match= value, joined by "|" */
	int has_match;
} table_entry;

typedef struct table {
	table_entry *items;
	size_t count, cap;
} table;

/* table_free - the parsed table */
static void table_free(table *t)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		pn_free(t->items[i].key);
		pn_free(t->items[i].level);
		pn_free(t->items[i].protocols);
		pn_free(t->items[i].ciphers);
		pn_free(t->items[i].exclude);
		pn_buf_free(&t->items[i].match);
	}
	pn_free(t->items);
}

/* set_once - keep the last value of an attribute (Postfix: a later one wins) */
static void set_once(char **slot, const char *v)
{
	pn_free(*slot);
	*slot = pn_strdup(v);
}

/* parse_entry_text - "key level attr=v, attr=v" into a table entry */
static int parse_entry_text(table *t, const char *text, unsigned line)
{
	table_entry *e;
	const char *p = text;
	char *word;
	size_t n;
	int first = 1;

	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->items = pn_realloc(t->items, t->cap * sizeof(*t->items));
	}
	e = &t->items[t->count];
	memset(e, 0, sizeof(*e));
	pn_buf_init(&e->match, TABLE_LINE_MAX);
	n = strcspn(p, " \t");
	word = pn_strndup(p, n);
	/* the one form of common/domain.h, so "b\xc3\xbccher.example" and its
	 * A-label are the same key; what is no domain name stays as written */
	e->key = word[0] == '.' ? pn_domain_normalise(word + 1) : pn_domain_normalise(word);
	if (e->key != NULL && word[0] == '.') {
		char *dotted = pn_asprintf(".%s", e->key);
		pn_free(e->key);
		e->key = dotted;
	}
	if (e->key == NULL)
		e->key = pn_domain_lower(word);
	pn_free(word);
	e->line = line;
	p += n;
	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		word = pn_strndup(p, n);
		p += n;
		if (first) {
			e->level = word;
			first = 0;
			continue;
		}
		if (strncasecmp(word, "protocols=", 10) == 0)
			set_once(&e->protocols, word + 10);
		else if (strncasecmp(word, "ciphers=", 8) == 0)
			set_once(&e->ciphers, word + 8);
		else if (strncasecmp(word, "exclude=", 8) == 0)
			set_once(&e->exclude, word + 8);
		else if (strncasecmp(word, "match=", 6) == 0) {
			if (e->has_match)
				pn_buf_putc(&e->match, '|');
			pn_buf_puts(&e->match, word + 6);
			e->has_match = 1;
		}
		pn_free(word);
	}
	t->count++;
	return e->level ? 0 : -1;
}

/* flush - parse the logical line gathered so far */
static int flush(table *t, pn_buf *logical, const char *name, unsigned start, char **err)
{
	if (pn_buf_len(logical) == 0)
		return 0;
	if (parse_entry_text(t, pn_buf_str(logical), start) < 0) {
		*err = pn_asprintf("%s:%u: entry without a security level", name, start);
		return -1;
	}
	pn_buf_reset(logical);
	return 0;
}

/* table_parse - Postfix table source: comments, continuation lines */
static int table_parse(table *t, const char *text, size_t len, const char *name, char **err)
{
	size_t pos = 0;
	unsigned lineno = 0, start = 0;
	pn_buf logical;
	int rc = 0;

	pn_buf_init(&logical, TABLE_LINE_MAX);
	while (rc == 0 && pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos, i = 0;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (memchr(l, '\0', n)) {
			*err = pn_asprintf("%s:%u: NUL byte", name, lineno);
			rc = -1;
			break;
		}
		if (n > 0 && l[n - 1] == '\r')
			n--;
		while (i < n && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i == n || l[i] == '#')
			continue;
		if (i > 0) {
			if (pn_buf_len(&logical) == 0) {
				*err = pn_asprintf("%s:%u: continuation line before any entry", name,
						   lineno);
				rc = -1;
			} else if (pn_buf_putc(&logical, ' ') < 0
				   || pn_buf_append(&logical, l + i, n - i) < 0) {
				*err = pn_asprintf("%s:%u: entry too long", name, start);
				rc = -1;
			}
			continue;
		}
		if ((rc = flush(t, &logical, name, start, err)) < 0)
			break;
		start = lineno;
		if (pn_buf_append(&logical, l, n) < 0) {
			*err = pn_asprintf("%s:%u: entry too long", name, start);
			rc = -1;
		}
	}
	if (rc == 0)
		rc = flush(t, &logical, name, start, err);
	pn_buf_free(&logical);
	return rc;
}

/* table_find - the entry Postfix uses for our key: the key, then ".parent" keys */
static const table_entry *table_find(const table *t, const char *key)
{
	const char *k = key;
	size_t i;

	while (k && *k) {
		for (i = 0; i < t->count; i++)
			if (strcmp(t->items[i].key, k) == 0)
				return &t->items[i];
		/* next candidate: the parent with a leading dot */
		k = strchr(k[0] == '.' ? k + 1 : k, '.');
	}
	return NULL;
}

/* enc_rank - 1 when a level never falls back to plain text */
static int enc_rank(int level)
{
	return level == PTLS_LEVEL_ENCRYPT || level >= PTLS_LEVEL_DANE_ONLY;
}

/* auth_rank - how strongly a level authenticates the server */
static int auth_rank(int level)
{
	switch (level) {
	case PTLS_LEVEL_VERIFY: return 1;
	case PTLS_LEVEL_SECURE: case PTLS_LEVEL_FINGERPRINT: case PTLS_LEVEL_DANE_ONLY: return 2;
	default: return 0;
	}
}

/* min_protocol - lowest protocol a Postfix protocols= value allows (0: cannot tell) */
static int min_protocol(const char *v)
{
	static const int all[] = {0x200, 0x300, 0x301, 0x302, 0x303, 0x304, 0};
	char *copy = pn_strdup(v), *item, *save = NULL;
	int lowest_included = 0, ge = 0, excluded[7] = {0}, i, any_incl = 0, rc = 0;

	for (item = strtok_r(copy, ":, \t", &save); item; item = strtok_r(NULL, ":, \t", &save)) {
		if (strncmp(item, ">=", 2) == 0) {
			ge = ptls_version_parse(item + 2);
		} else if (item[0] == '!') {
			int x = ptls_version_parse(item + 1);
			for (i = 0; all[i]; i++)
				if (all[i] == x)
					excluded[i] = 1;
		} else if (strncmp(item, "<=", 2) != 0) {
			int x = ptls_version_parse(item);
			any_incl = 1;
			if (x && (lowest_included == 0 || x < lowest_included))
				lowest_included = x;
		}
	}
	pn_free(copy);
	if (ge)
		return ge;
	if (any_incl)
		return lowest_included;
	for (i = 0; all[i]; i++)
		if (!excluded[i]) {
			rc = all[i];
			break;
		}
	return rc;
}

/* in_list - is item one of the sep-separated words of list (case-insensitive)? */
static int in_list(const char *list, const char *item, const char *sep)
{
	const char *p = list;
	size_t n = strlen(item);

	while (p && *p) {
		size_t k = strcspn(p, sep);
		if (k == n && strncasecmp(p, item, n) == 0)
			return 1;
		p += k;
		p += strspn(p, sep);
	}
	return 0;
}

/* same_set - two sep lists hold the same words */
static int same_set(const char *a, const char *b, const char *sep)
{
	const char *lists[2] = {a, b};
	int i;

	for (i = 0; i < 2; i++) {
		const char *p = lists[i], *other = lists[1 - i];
		while (*p) {
			size_t k = strcspn(p, sep);
			char *w = pn_strndup(p, k);
			int ok = in_list(other, w, sep);
			pn_free(w);
			if (!ok)
				return 0;
			p += k;
			p += strspn(p, sep);
		}
	}
	return 1;
}

/* report - one weakness line */
static void report(FILE *out, const char *name, const ptls_policy *p, const table_entry *e,
		   const char *problem)
{
	if (e == NULL)
		fprintf(out, "%s: %s: %s (policy %s:%u)\n", name, p->key, problem, p->file, p->line);
	else if (strcmp(e->key, p->key) == 0)
		fprintf(out, "%s:%u: %s: %s (policy %s:%u)\n", name, e->line, p->key, problem,
			p->file, p->line);
	else
		fprintf(out, "%s:%u: %s (entry %s): %s (policy %s:%u)\n", name, e->line, p->key,
			e->key, problem, p->file, p->line);
}

/* compare - the weaknesses of entry e against policy p; returns how many */
static int compare(FILE *out, const char *name, const ptls_policy *p, const table_entry *e)
{
	int level = ptls_policy_export_level(p), theirs = ptls_level_parse(e->level);
	int n = 0, v, grade;
	char *msg;

	if (theirs < 0) {
		msg = pn_asprintf("unknown security level \"%.100s\"", e->level);
		report(out, name, p, e, msg);
		pn_free(msg);
		return 1;
	}
	if (enc_rank(theirs) < enc_rank(level) || auth_rank(theirs) < auth_rank(level)) {
		msg = pn_asprintf("level %s is weaker than %s", ptls_level_name(theirs),
				  ptls_level_name(level));
		report(out, name, p, e, msg);
		pn_free(msg);
		n++;
	}
	if (p->min_version && level != PTLS_LEVEL_NONE) {
		if (e->protocols == NULL) {
			msg = pn_asprintf("no protocols= (main.cf applies; the policy needs >=%s)",
					  ptls_version_name(p->min_version));
			report(out, name, p, e, msg);
			pn_free(msg);
			n++;
		} else if ((v = min_protocol(e->protocols)) < p->min_version) {
			msg = pn_asprintf("protocols=%.100s allows %s (the policy needs >=%s)",
					  e->protocols, v ? ptls_version_name(v) : "older versions",
					  ptls_version_name(p->min_version));
			report(out, name, p, e, msg);
			pn_free(msg);
			n++;
		}
	}
	grade = level == PTLS_LEVEL_NONE ? -1 : export_grade(p);
	if (grade >= 0 && grade_rank(e->ciphers) < grade) {
		char *why = grade != grade_rank(p->outbound_ciphers)
			    ? pn_asprintf(" for min_bits=%d", p->min_bits) : pn_strdup("");
		msg = e->ciphers ? pn_asprintf("ciphers=%.100s is weaker than %s%s", e->ciphers,
					       grades[grade], why)
				 : pn_asprintf("no ciphers= (main.cf applies; the policy needs %s%s)",
					       grades[grade], why);
		report(out, name, p, e, msg);
		pn_free(why);
		pn_free(msg);
		n++;
	}
	if (p->min_bits > HIGH_MIN_BITS && level != PTLS_LEVEL_NONE) {
		msg = pn_asprintf("min_bits=%d cannot be enforced by Postfix: ciphers=high still "
				  "allows %d-bit ciphers", p->min_bits, HIGH_MIN_BITS);
		report(out, name, p, e, msg);
		pn_free(msg);
		n++;
	}
	if (p->outbound_exclude) {
		const char *q = p->outbound_exclude;
		while (*q) {
			size_t k = strcspn(q, ":");
			char *w = pn_strndup(q, k);
			if (e->exclude == NULL || !in_list(e->exclude, w, ":")) {
				msg = pn_asprintf("exclude= lacks %s", w);
				report(out, name, p, e, msg);
				pn_free(msg);
				n++;
			}
			pn_free(w);
			q += k;
			q += strspn(q, ":");
		}
	}
	if (p->match) {
		const char *sep = level == PTLS_LEVEL_FINGERPRINT ? "|" : ":";
		if (!e->has_match || !same_set(p->match, pn_buf_str(&e->match), sep)) {
			msg = pn_asprintf("match=%.200s differs from the policy's match=%.200s",
					  e->has_match ? pn_buf_str(&e->match) : "(none)", p->match);
			report(out, name, p, e, msg);
			pn_free(msg);
			n++;
		}
	}
	return n;
}

/* ptls_postfix_map_check - weaknesses of a Postfix table against the policy */
int ptls_postfix_map_check(const ptls_policy_set *s, const char *text, size_t len,
			   const char *name, FILE *out, char **err)
{
	table t = {NULL, 0, 0};
	size_t i, j;
	int n = 0;

	*err = NULL;
	if (table_parse(&t, text, len, name, err) < 0) {
		table_free(&t);
		return -1;
	}
	for (i = 0; i < s->count; i++) {
		const ptls_policy *p = s->items[i];
		int level = ptls_policy_export_level(p);
		const table_entry *e;
		char *msg;

		if (level == PTLS_LEVEL_UNSET || strcmp(p->key, "*") == 0)
			continue;
		if ((e = table_find(&t, p->key)) == NULL) {
			msg = pn_asprintf("no entry (the policy needs %s)", ptls_level_name(level));
			report(out, name, p, NULL, msg);
			pn_free(msg);
			n++;
			continue;
		}
		n += compare(out, name, p, e);
		/* the same key in its other spelling (U-label or A-label) is
		 * another entry Postfix may use: it must be as strong */
		for (j = 0; j < t.count; j++)
			if (&t.items[j] != e && strcmp(t.items[j].key, e->key) == 0)
				n += compare(out, name, p, &t.items[j]);
	}
	table_free(&t);
	return n;
}
