/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * decide - check TLS facts against a policy, decide per SMTP stage, and
 * turn remembered findings into end-of-message actions (see decide.h)
 *
 * Everything here is a lookup and a few comparisons: no I/O, no locks,
 * nothing shared but the immutable policy set.
 */
#include "milters/tls/decide.h"
#include "common/addr.h"
#include "common/alloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest piece of mail data (macro value, address) copied into a text. */
#define VALUE_MAX 120
/* Longest SMTP reply text and header value built here. */
#define TEXT_MAX 400

/* ptls_clean - printable ASCII copy without "%", cut to max bytes with "..." */
char *ptls_clean(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0, i, keep = n > max ? max : n;
	char *out = pn_malloc(keep + 4);

	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (char)(c < 32 || c > 126 || c == '%' ? '?' : c);
	}
	if (n > max) {
		memcpy(out + keep, "...", 3);
		keep += 3;
	}
	out[keep] = '\0';
	return out;
}

/* item - append one ", "-separated piece to b (b may be NULL) */
static void item(pn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void item(pn_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	if (b == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	text = pn_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (pn_buf_len(b) > 0)
		pn_buf_puts(b, ", ");
	pn_buf_puts(b, text);
	pn_free(text);
}

/* has - a non-empty macro value */
static int has(const char *v)
{
	return v != NULL && *v != '\0';
}

/* ptls_verified - was the client certificate verified? */
int ptls_verified(const ptls_facts *f)
{
	if (f->verify != NULL)
		return strcasecmp(f->verify, "OK") == 0;	/* Sendmail */
	/* A full DN ("/O=.../CN=...") comes from Sendmail, which sends the
	 * subject of unverified certificates too: without {verify} (not in its
	 * default macro lists) nothing says it was verified, so it was not.
	 * Postfix sends only the common name, and only for a verified one. */
	if (has(f->subject) && f->subject[0] == '/')
		return 0;
	return has(f->version) && has(f->subject);
}

/* xtext_decode - Sendmail's "+XX" escapes (RFC 3461 xtext) */
static char *xtext_decode(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *out = pn_malloc(n + 1);

	for (i = 0; i < n; i++) {
		if (s[i] == '+' && i + 2 < n && isxdigit((unsigned char)s[i + 1])
		    && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], '\0'};
			long v = strtol(hex, NULL, 16);
			if (v > 0) {
				out[o++] = (char)v;
				i += 2;
				continue;
			}
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* last_cn - the value of the last CN in a "/O=x/CN=y" or "CN=y,O=x" name, or NULL */
static char *last_cn(const char *dn)
{
	const char *p = dn, *hit = NULL;
	size_t len;

	while ((p = strstr(p, "CN=")) != NULL) {
		if (p == dn || p[-1] == '/' || p[-1] == ',' || p[-1] == ' ')
			hit = p + 3;
		p += 3;
	}
	if (hit == NULL)
		return NULL;
	len = strcspn(hit, "/,");
	return pn_strndup(hit, len);
}

/* name_matches - a certificate name against patterns (Sendmail: DN and its CN) */
static int name_matches(char *const *patterns, const char *value, int sendmail)
{
	char *decoded, *cn;
	int ok;

	if (!sendmail)
		return ptls_patterns_match(patterns, value);
	decoded = xtext_decode(value);
	cn = last_cn(decoded);
	ok = ptls_patterns_match(patterns, decoded) || (cn && ptls_patterns_match(patterns, cn));
	pn_free(cn);
	pn_free(decoded);
	return ok;
}

/* cert_requirement - "a verified client certificate with subject S issued by I" */
static void cert_requirement(const ptls_policy *p, unsigned mask, pn_buf *req)
{
	char *s = p->subject_text && (mask & PTLS_REQ_SUBJECT) ? ptls_clean(p->subject_text, VALUE_MAX)
								: NULL;
	char *i = p->issuer_text && (mask & PTLS_REQ_ISSUER) ? ptls_clean(p->issuer_text, VALUE_MAX)
							      : NULL;

	item(req, "a verified client certificate%s%s%s%s", s ? " with subject " : "", s ? s : "",
	     i ? " issued by " : "", i ? i : "");
	pn_free(s);
	pn_free(i);
}

/* cert_failures - the REQ_* bits a missing or unverified certificate fails */
static unsigned cert_failures(const ptls_policy *p, unsigned mask)
{
	unsigned failed = 0;

	if (p->verify)
		failed |= PTLS_REQ_VERIFY;
	if (p->subject)
		failed |= PTLS_REQ_SUBJECT;
	if (p->issuer)
		failed |= PTLS_REQ_ISSUER;
	return failed & mask;
}

/* plaintext_failures - a session without TLS fails every TLS requirement at once */
static unsigned plaintext_failures(const ptls_policy *p, unsigned mask, pn_buf *req)
{
	unsigned failed = PTLS_REQ_TLS;
	char *c;

	item(req, "TLS");
	if (p->min_version && (mask & PTLS_REQ_VERSION)) {
		failed |= PTLS_REQ_VERSION;
		item(req, "%s or later", ptls_version_name(p->min_version));
	}
	if (p->min_bits && (mask & PTLS_REQ_BITS)) {
		failed |= PTLS_REQ_BITS;
		item(req, "%d or more cipher bits", p->min_bits);
	}
	if (p->ciphers && (mask & PTLS_REQ_CIPHER)) {
		failed |= PTLS_REQ_CIPHER;
		c = ptls_clean(p->ciphers, VALUE_MAX);
		item(req, "cipher %s", c);
		pn_free(c);
	}
	if (cert_failures(p, mask)) {
		failed |= cert_failures(p, mask);
		cert_requirement(p, mask, req);
	}
	return failed;
}

/* check_cert - client certificate requirements of a TLS session */
static unsigned check_cert(const ptls_policy *p, const ptls_facts *f, unsigned mask, pn_buf *req,
			   pn_buf *seen)
{
	int sendmail = f->verify != NULL;
	unsigned failed = 0;
	char *v, *w;

	if (!ptls_verified(f)) {
		if ((failed = cert_failures(p, mask)) != 0) {
			cert_requirement(p, mask, req);
			v = f->verify ? ptls_clean(f->verify, VALUE_MAX) : NULL;
			if (v)
				item(seen, "client certificate verify=%s", v);
			else
				item(seen, "no verified client certificate");
			pn_free(v);
		}
		return failed;
	}
	if (p->subject && (mask & PTLS_REQ_SUBJECT)
	    && !(has(f->subject) && name_matches(p->subject, f->subject, sendmail))) {
		failed |= PTLS_REQ_SUBJECT;
		v = ptls_clean(p->subject_text, VALUE_MAX);
		w = ptls_clean(has(f->subject) ? f->subject : "(none)", VALUE_MAX);
		item(req, "client certificate subject %s", v);
		item(seen, "subject %s", w);
		pn_free(v);
		pn_free(w);
	}
	if (p->issuer && (mask & PTLS_REQ_ISSUER)
	    && !(has(f->issuer) && name_matches(p->issuer, f->issuer, sendmail))) {
		failed |= PTLS_REQ_ISSUER;
		v = ptls_clean(p->issuer_text, VALUE_MAX);
		w = ptls_clean(has(f->issuer) ? f->issuer : "(none)", VALUE_MAX);
		item(req, "client certificate issued by %s", v);
		item(seen, "issuer %s", w);
		pn_free(v);
		pn_free(w);
	}
	return failed;
}

/* check_encryption - version, bits and cipher of a TLS session */
static unsigned check_encryption(const ptls_policy *p, const ptls_facts *f, unsigned mask,
				 pn_buf *req, pn_buf *seen)
{
	unsigned failed = 0;
	char *v, *end;
	long bits;

	if (p->min_version && (mask & PTLS_REQ_VERSION)
	    && ptls_version_parse(f->version) < p->min_version) {
		failed |= PTLS_REQ_VERSION;
		v = ptls_clean(f->version, VALUE_MAX);
		item(req, "%s or later", ptls_version_name(p->min_version));
		item(seen, "%s", v);
		pn_free(v);
	}
	if (p->min_bits && (mask & PTLS_REQ_BITS)) {
		bits = has(f->bits) ? strtol(f->bits, &end, 10) : -1;
		if (!has(f->bits) || *end != '\0' || bits < p->min_bits) {
			failed |= PTLS_REQ_BITS;
			item(req, "%d or more cipher bits", p->min_bits);
			if (has(f->bits) && *end == '\0')
				item(seen, "%ld cipher bits", bits);
			else
				item(seen, "unknown cipher bits");
		}
	}
	if ((p->cipher_allow || p->cipher_deny) && (mask & PTLS_REQ_CIPHER)
	    && !(has(f->cipher) && ptls_patterns_match(p->cipher_allow, f->cipher)
		 && !(p->cipher_deny && ptls_patterns_match(p->cipher_deny, f->cipher)))) {
		failed |= PTLS_REQ_CIPHER;
		v = ptls_clean(p->ciphers, VALUE_MAX);
		item(req, "cipher %s", v);
		pn_free(v);
		v = ptls_clean(has(f->cipher) ? f->cipher : "(unknown)", VALUE_MAX);
		item(seen, "cipher %s", v);
		pn_free(v);
	}
	return failed;
}

/* ptls_check - the requirements of p (those in mask) that f fails */
unsigned ptls_check(const ptls_policy *p, const ptls_facts *f, unsigned mask, pn_buf *req,
		    pn_buf *seen)
{
	unsigned failed = 0;
	char *v;

	if (!has(f->version)) {
		if (p->tls_required && (mask & PTLS_REQ_TLS)) {
			failed |= plaintext_failures(p, mask, req);
			item(seen, "no TLS");
		}
	} else {
		failed |= check_encryption(p, f, mask, req, seen);
		failed |= check_cert(p, f, mask, req, seen);
	}
	if (p->clients && (mask & PTLS_REQ_CLIENTS)
	    && !(f->client_addr && pn_cidr_list_match(p->clients, f->client_addr))) {
		failed |= PTLS_REQ_CLIENTS;
		v = ptls_clean(p->clients_text, VALUE_MAX);
		item(req, "a client in %s", v);
		pn_free(v);
		v = ptls_clean(f->client_addr ? f->client_addr : "(unknown)", VALUE_MAX);
		item(seen, "client %s", v);
		pn_free(v);
	}
	return failed;
}

/* ptls_facts_summary - one line: "TLSv1.3, cipher X, 256 bits, ..." */
void ptls_facts_summary(const ptls_facts *f, pn_buf *out)
{
	char *v;

	if (!has(f->version)) {
		item(out, "no TLS");
		return;
	}
	v = ptls_clean(f->version, VALUE_MAX);
	item(out, "%s", v);
	pn_free(v);
	v = ptls_clean(has(f->cipher) ? f->cipher : "(unknown)", VALUE_MAX);
	item(out, "cipher %s", v);
	pn_free(v);
	v = ptls_clean(has(f->bits) ? f->bits : "unknown", VALUE_MAX);
	item(out, "%s bits", v);
	pn_free(v);
	if (ptls_verified(f))
		item(out, "client certificate verified");
	else
		item(out, "no verified client certificate");
	if (has(f->subject)) {
		v = ptls_clean(f->subject, VALUE_MAX);
		item(out, "subject %s", v);
		pn_free(v);
	}
	if (has(f->issuer)) {
		v = ptls_clean(f->issuer, VALUE_MAX);
		item(out, "issuer %s", v);
		pn_free(v);
	}
}

/* refuse - fill the SMTP reply of a refusing decision */
static void refuse(ptls_decision *d)
{
	int temp = d->policy->action == PTLS_ACT_TEMPFAIL;
	int enc = (d->failed & PTLS_REQ_ENCRYPTION) != 0;
	char *domain = ptls_clean(*d->domain ? d->domain : "an unknown domain", VALUE_MAX);
	char *text;

	d->verdict = temp ? PN_TEMPFAIL : PN_REJECT;
	d->rcode = temp ? "450" : "550";
	if (enc)
		d->xcode = temp ? "4.7.10" : "5.7.10";
	else
		d->xcode = temp ? "4.7.1" : "5.7.1";
	text = pn_asprintf("%s: TLS policy for mail %s %s requires %s; seen %s",
			   enc ? "Encryption needed" : "Not authorized",
			   d->stage == PTLS_STAGE_MAIL ? "from" : "to", domain, d->required, d->seen);
	d->text = ptls_clean(text, TEXT_MAX);
	pn_free(text);
	pn_free(domain);
}

/* apply - decide with policy p for domain; p may be NULL (nothing applies) */
static void apply(ptls_decision *d, const ptls_policy *p, const char *domain,
		  const ptls_facts *f)
{
	unsigned dir = d->stage == PTLS_STAGE_MAIL ? PTLS_DIR_INBOUND : PTLS_DIR_OUTBOUND;
	pn_buf req, seen;

	pn_free(d->domain);
	d->domain = pn_strdup(domain);
	if (p == NULL || !(p->direction & dir))
		return;
	d->policy = p;
	pn_buf_init(&req, 0);
	pn_buf_init(&seen, 0);
	d->failed = ptls_check(p, f, PTLS_REQ_ALL, &req, &seen);
	if (d->failed) {
		d->required = pn_buf_steal(&req, NULL);
		d->seen = pn_buf_steal(&seen, NULL);
		if (p->action == PTLS_ACT_REJECT || p->action == PTLS_ACT_TEMPFAIL)
			refuse(d);
	}
	pn_buf_free(&req);
	pn_buf_free(&seen);
}

/* unparsable - no domain could be made out and no "*" line: try again later */
static void unparsable(ptls_decision *d)
{
	char *addr = ptls_clean(d->address, VALUE_MAX);
	char *text = pn_asprintf("Cannot tell the domain of <%s> for the TLS policy", addr);

	d->verdict = PN_TEMPFAIL;
	d->rcode = "451";
	d->xcode = "4.7.0";
	d->text = ptls_clean(text, TEXT_MAX);
	pn_free(text);
	pn_free(addr);
}

/* ptls_decide_addr - the decision for one canonical MAIL FROM or RCPT TO address */
void ptls_decide_addr(const ptls_policy_set *s, ptls_stage stage, const pn_addr *a, int ok,
		      const char *path, const ptls_facts *f, ptls_decision *d)
{
	const ptls_policy *relay_policy;
	ptls_decision alt;
	char *relay;

	memset(d, 0, sizeof(*d));
	d->stage = stage;
	d->verdict = PN_CONTINUE;
	if (ok && a->address[0] == '\0') {
		/* the null sender "<>": no domain, so no partner */
		d->address = pn_strdup("");
		d->domain = pn_strdup("");
		return;
	}
	if (ok) {
		d->address = pn_strdup(a->address);
	} else {
		/* the path as written, without its angle brackets */
		const char *p = path ? path : "";
		size_t n = strlen(p);
		char *bare;
		if (n > 0 && p[0] == '<') {
			p++;
			n--;
		}
		if (n > 0 && p[n - 1] == '>')
			n--;
		bare = pn_strndup(p, n);
		d->address = ptls_clean(bare, VALUE_MAX);
		pn_free(bare);
	}
	if (ok)
		apply(d, ptls_policy_lookup(s, a->domain), a->domain, f);
	else if (s->fallback)
		apply(d, s->fallback, "", f);
	else if (a->local[0] == '\0' || strchr(path ? path : "", '@') != NULL)
		unparsable(d);
	else
		/* a bare local part ("<root>"): the MTA qualifies it with its
		 * own domain, which no line but "*" covers */
		apply(d, NULL, "", f);
	if (d->verdict != PN_CONTINUE)
		return;
	/* "a%partner.example@relay" and "partner.example!a": Postfix may
	 * route the mail to the domain in the local part; its own line (not
	 * the fallback) applies too, and a refusal by either wins */
	relay = pn_addr_relay_domain(a->local);
	if (relay == NULL)
		return;
	relay_policy = pn_domain_map_lookup(s->map, relay, NULL);
	if (relay_policy != NULL && relay_policy != d->policy) {
		memset(&alt, 0, sizeof(alt));
		alt.stage = stage;
		alt.verdict = PN_CONTINUE;
		alt.address = pn_strdup(d->address);
		apply(&alt, relay_policy, relay, f);
		if (alt.verdict != PN_CONTINUE || d->policy == NULL) {
			ptls_decision_clear(d);
			*d = alt;
		} else {
			ptls_decision_clear(&alt);
		}
	}
	pn_free(relay);
}

/* ptls_decide - the decision for one MAIL FROM or RCPT TO path as written */
void ptls_decide(const ptls_policy_set *s, ptls_stage stage, const char *path,
		 const ptls_facts *f, ptls_decision *d)
{
	pn_addr a;
	int ok = pn_addr_parse_envelope(NULL, path ? path : "", &a) == 0;

	ptls_decide_addr(s, stage, &a, ok, path, f, d);
	pn_addr_clear(&a);
}

/* ptls_decision_log - the log text of a decision (the caller adds the queue id) */
char *ptls_decision_log(const ptls_decision *d, const ptls_facts *f)
{
	const char *dir = d->stage == PTLS_STAGE_MAIL ? "from" : "to";
	char *addr = ptls_clean(d->address, VALUE_MAX), *domain = ptls_clean(d->domain, VALUE_MAX);
	char *client = ptls_clean(f->client_addr ? f->client_addr : "unknown", VALUE_MAX);
	char *out;
	pn_buf b;

	if (d->policy == NULL) {
		out = pn_asprintf("tls: %s %s=<%s> domain=%s: %s",
				  d->verdict == PN_TEMPFAIL ? "tempfail" : "none", dir, addr,
				  *domain ? domain : "(none)",
				  d->verdict == PN_TEMPFAIL ? "unparsable address and no \"*\" policy"
							    : "no policy");
	} else if (d->failed == 0) {
		pn_buf_init(&b, 0);
		ptls_facts_summary(f, &b);
		out = pn_asprintf("tls: pass %s=<%s> domain=%s policy=%s:%u (%s) client=%s "
				  "seen=\"%s\"", dir, addr, domain, d->policy->file, d->policy->line,
				  d->policy->key, client, pn_buf_str(&b));
		pn_buf_free(&b);
	} else {
		out = pn_asprintf("tls: %s %s=<%s> domain=%s policy=%s:%u (%s) client=%s "
				  "required=\"%s\" seen=\"%s\"", ptls_action_name(d->policy->action),
				  dir, addr, domain, d->policy->file, d->policy->line,
				  d->policy->key, client, d->required, d->seen);
	}
	pn_free(addr);
	pn_free(domain);
	pn_free(client);
	return out;
}

/* ptls_decision_clear - free what a decision holds */
void ptls_decision_clear(ptls_decision *d)
{
	pn_free(d->address);
	pn_free(d->domain);
	pn_free(d->required);
	pn_free(d->seen);
	pn_free(d->text);
	memset(d, 0, sizeof(*d));
}

/* ptls_findings_add - remember a decision that matched a policy and let mail on */
void ptls_findings_add(ptls_findings *fs, const ptls_decision *d)
{
	ptls_finding *fi;

	if (d->policy == NULL || d->verdict != PN_CONTINUE)
		return;
	if (fs->count == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 4;
		fs->items = pn_realloc(fs->items, fs->cap * sizeof(*fs->items));
	}
	fi = &fs->items[fs->count++];
	fi->policy = d->policy;
	fi->stage = d->stage;
	fi->domain = pn_strdup(d->domain);
	fi->failed = d->failed;
	fi->required = d->required ? pn_strdup(d->required) : NULL;
	fi->seen = d->seen ? pn_strdup(d->seen) : NULL;
}

/* ptls_findings_free - forget every finding */
void ptls_findings_free(ptls_findings *fs)
{
	size_t i;

	for (i = 0; i < fs->count; i++) {
		pn_free(fs->items[i].domain);
		pn_free(fs->items[i].required);
		pn_free(fs->items[i].seen);
	}
	pn_free(fs->items);
	memset(fs, 0, sizeof(*fs));
}

/* ptls_findings_reason - "DOMAIN requires X; seen Y (policy FILE:LINE)" */
char *ptls_findings_reason(const ptls_finding *fi)
{
	char *domain = ptls_clean(fi->domain, VALUE_MAX);
	char *out = pn_asprintf("mail %s %s requires %s; seen %s (policy %s:%u)",
				fi->stage == PTLS_STAGE_MAIL ? "from" : "to", domain,
				fi->required ? fi->required : "nothing", fi->seen ? fi->seen : "-",
				fi->policy->file, fi->policy->line);
	pn_free(domain);
	return out;
}

/* same_policy_seen - is an earlier finding of the same action for this policy and domain? */
static int same_policy_seen(const ptls_findings *fs, size_t upto)
{
	const ptls_finding *x = &fs->items[upto];
	size_t i;

	for (i = 0; i < upto; i++)
		if (fs->items[i].policy == x->policy && fs->items[i].failed
		    && strcmp(fs->items[i].domain, x->domain) == 0)
			return 1;
	return 0;
}

/* trace_value - the trace header: session TLS and every policy that matched */
static char *trace_value(const ptls_findings *fs, const ptls_facts *f)
{
	pn_buf b;
	size_t i;
	char *v, *out;

	pn_buf_init(&b, 0);
	if (has(f->version)) {
		char *ver = ptls_clean(f->version, VALUE_MAX);
		char *cipher = ptls_clean(has(f->cipher) ? f->cipher : "unknown", VALUE_MAX);
		char *bits = ptls_clean(has(f->bits) ? f->bits : "unknown", VALUE_MAX);
		pn_buf_printf(&b, "version=%s; cipher=%s; bits=%s; verified=%s", ver, cipher, bits,
			      ptls_verified(f) ? "yes" : "no");
		pn_free(ver);
		pn_free(cipher);
		pn_free(bits);
	} else {
		pn_buf_puts(&b, "version=none; verified=no");
	}
	pn_buf_puts(&b, "; policy=");
	if (fs == NULL || fs->count == 0)
		pn_buf_puts(&b, "none");
	for (i = 0; fs && i < fs->count; i++) {
		const ptls_finding *fi = &fs->items[i];
		v = ptls_clean(fi->domain, VALUE_MAX);
		pn_buf_printf(&b, "%s%s %s (%s:%u %s)", i ? ", " : "",
			      fi->stage == PTLS_STAGE_MAIL ? "from" : "to", v, fi->policy->key,
			      fi->policy->line,
			      fi->failed ? ptls_action_name(fi->policy->action) : "pass");
		pn_free(v);
	}
	out = ptls_clean(pn_buf_str(&b), 2 * TEXT_MAX);
	pn_buf_free(&b);
	return out;
}

/* ptls_findings_eom - quarantine, tag headers and trace header for one message */
int ptls_findings_eom(const ptls_findings *fs, const ptls_facts *f, const char *trace_header,
		      const char *tag_header, pn_actions *a)
{
	pn_buf hold;
	size_t i;
	int added = 0;
	char *r, *v;

	pn_buf_init(&hold, 0);
	for (i = 0; fs && i < fs->count; i++) {
		const ptls_finding *fi = &fs->items[i];
		if (!fi->failed || same_policy_seen(fs, i))
			continue;
		r = ptls_findings_reason(fi);
		if (fi->policy->action == PTLS_ACT_HOLD) {
			pn_buf_printf(&hold, "%s%s", pn_buf_len(&hold) ? "; " : "postern-tls: ", r);
		} else if (fi->policy->action == PTLS_ACT_TAG && tag_header && *tag_header) {
			v = ptls_clean(r, TEXT_MAX);
			if (pn_actions_add_header(a, tag_header, v) == 0)
				added++;
			pn_free(v);
		}
		pn_free(r);
	}
	if (pn_buf_len(&hold)) {
		v = ptls_clean(pn_buf_str(&hold), TEXT_MAX);
		if (pn_actions_quarantine(a, v) == 0)
			added++;
		pn_free(v);
	}
	pn_buf_free(&hold);
	if (trace_header && *trace_header) {
		v = trace_value(fs, f);
		if (pn_actions_insert_header(a, 0, trace_header, v) == 0)
			added++;
		pn_free(v);
	}
	return added;
}
