/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * maillog - Postfix smtp(8) log lines to ledger events (see maillog.h)
 *
 * Parsing works on (pointer, length) spans of the caller's line and
 * copies into fixed arrays: the line need not be NUL-terminated, and no
 * input makes this code allocate (except the domain normaliser, which
 * is bounded by the 255-byte field it gets).
 */
#include "milters/tls/maillog.h"
#include "common/alloc.h"
#include "common/domain.h"

#include <ctype.h>
#include <string.h>

typedef struct span {
	const char *p;
	size_t n;
} span;

/* take - the prefix of s up to len bytes: advance s past it */
static void take(span *s, size_t len)
{
	s->p += len;
	s->n -= len;
}

/* starts - s begins with lit */
static int starts(const span *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->n >= n && memcmp(s->p, lit, n) == 0;
}

/* find - offset of lit in s, or -1 */
static long find(const span *s, const char *lit)
{
	size_t n = strlen(lit), i;

	if (n == 0 || s->n < n)
		return n == 0 ? 0 : -1;
	for (i = 0; i + n <= s->n; i++)
		if (s->p[i] == lit[0] && memcmp(s->p + i, lit, n) == 0)
			return (long)i;
	return -1;
}

/* copy - s[0..len) into dst as a C string; 0 when it does not fit or holds NUL/control bytes */
static int copy(char *dst, size_t size, const char *src, size_t len)
{
	size_t i;

	if (len >= size)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
			return 0;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 1;
}

/* digits - read up to max decimal digits; -1 when there are none */
static long digits(span *s, size_t max)
{
	long v = 0;
	size_t i = 0;

	while (i < s->n && i < max && isdigit((unsigned char)s->p[i]))
		v = v * 10 + (s->p[i++] - '0');
	if (i == 0)
		return -1;
	take(s, i);
	return v;
}

/* expect - consume lit or fail */
static int expect(span *s, const char *lit)
{
	if (!starts(s, lit))
		return 0;
	take(s, strlen(lit));
	return 1;
}

/* stamp_rfc3339 - "2026-12-05T10:41:32[.frac](Z|+hh:mm|+hhmm)" */
static int stamp_rfc3339(span *s, time_t *when)
{
	struct tm tm;
	long y, mo, d, h, mi, se, oh = 0, om = 0;
	int sign = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if ((y = digits(s, 4)) < 1970 || !expect(s, "-") || (mo = digits(s, 2)) < 1 || mo > 12
	    || !expect(s, "-") || (d = digits(s, 2)) < 1 || d > 31 || !expect(s, "T")
	    || (h = digits(s, 2)) < 0 || h > 23 || !expect(s, ":") || (mi = digits(s, 2)) < 0
	    || mi > 59 || !expect(s, ":") || (se = digits(s, 2)) < 0 || se > 60)
		return 0;
	if (expect(s, ".") && digits(s, 9) < 0)
		return 0;
	if (expect(s, "Z")) {
		sign = 0;
	} else if (s->n > 0 && (s->p[0] == '+' || s->p[0] == '-')) {
		sign = s->p[0] == '-' ? -1 : 1;
		take(s, 1);
		if ((oh = digits(s, 2)) < 0 || oh > 23)
			return 0;
		expect(s, ":");
		if ((om = digits(s, 2)) < 0 || om > 59)
			return 0;
	} else {
		return 0;
	}
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)mo - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)se;
	if ((t = timegm(&tm)) == (time_t)-1)
		return 0;
	*when = t - sign * (oh * 3600 + om * 60);
	return 1;
}

/* local_time_in - the local time of day and date of when in that year
 * (tm_year) */
static time_t local_time_in(const struct tm *when, int year)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year;
	tm.tm_mon = when->tm_mon;
	tm.tm_mday = when->tm_mday;
	tm.tm_hour = when->tm_hour;
	tm.tm_min = when->tm_min;
	tm.tm_sec = when->tm_sec;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* stamp_classic - "Dec  5 10:41:32" in local time, the year guessed from now */
static int stamp_classic(span *s, time_t now, time_t *when)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm, nowtm;
	long d, h, mi, se;
	int mon;
	time_t t;

	if (s->n < 4)
		return 0;
	for (mon = 0; mon < 12; mon++)
		if (memcmp(s->p, months + 3 * mon, 3) == 0)
			break;
	if (mon == 12 || s->p[3] != ' ')
		return 0;
	take(s, 4);
	if (s->n && s->p[0] == ' ')
		take(s, 1);
	if ((d = digits(s, 2)) < 1 || d > 31 || !expect(s, " ") || (h = digits(s, 2)) < 0
	    || h > 23 || !expect(s, ":") || (mi = digits(s, 2)) < 0 || mi > 59 || !expect(s, ":")
	    || (se = digits(s, 2)) < 0 || se > 60)
		return 0;
	localtime_r(&now, &nowtm);
	tm.tm_mon = mon;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)se;
	t = local_time_in(&tm, nowtm.tm_year);
	if (t != (time_t)-1 && t > now + 86400)	/* December's lines read in January */
		t = local_time_in(&tm, nowtm.tm_year - 1);
	if (t == (time_t)-1)
		return 0;
	*when = t;
	return 1;
}

/* peer - "HOST[ADDR]:PORT" at the start of s, up to the end of the port */
static int peer(span *s, char *dst, size_t size)
{
	long close = find(s, "]:");
	span rest;

	if (close < 0)
		return 0;
	rest = *s;
	take(&rest, (size_t)close + 2);
	if (digits(&rest, 5) < 0)
		return 0;
	if (!copy(dst, size, s->p, (size_t)(rest.p - s->p)))
		return 0;
	*s = rest;
	return 1;
}

/* parse_tls - "Verified TLS connection established to PEER: VERSION with cipher CIPHER ..." */
static int parse_tls(span m, ptls_ml_line *out)
{
	static const char *const trusts[] = {"Anonymous", "Untrusted", "Trusted", "Verified", NULL};
	long sp;
	int i;

	for (i = 0; trusts[i]; i++)
		if (starts(&m, trusts[i]))
			break;
	if (trusts[i] == NULL)
		return 0;
	take(&m, strlen(trusts[i]));
	if (!expect(&m, " TLS connection established to ") || !peer(&m, out->peer, sizeof(out->peer))
	    || !expect(&m, ": "))
		return 0;
	if ((sp = find(&m, " with cipher ")) <= 0
	    || !copy(out->version, sizeof(out->version), m.p, (size_t)sp))
		return 0;
	take(&m, (size_t)sp + strlen(" with cipher "));
	if ((sp = find(&m, " ")) < 0)
		sp = (long)m.n;
	if (sp == 0 || !copy(out->cipher, sizeof(out->cipher), m.p, (size_t)sp))
		return 0;
	copy(out->trust, sizeof(out->trust), trusts[i], strlen(trusts[i]));
	return PTLS_ML_TLS;
}

/* parse_verify_fail - "certificate verification failed for PEER: WHY" */
static int parse_verify_fail(span m, ptls_ml_line *out)
{
	if (!expect(&m, "certificate verification failed for ")
	    || !peer(&m, out->peer, sizeof(out->peer)) || !expect(&m, ": "))
		return 0;
	if (m.n >= sizeof(out->text))
		m.n = sizeof(out->text) - 1;
	if (!copy(out->text, sizeof(out->text), m.p, m.n))
		return 0;
	return PTLS_ML_VERIFY_FAIL;
}

/* field - the value of ", NAME=" (or "NAME=" at the start) up to the next ", " */
static int field(span m, const char *name, span *value)
{
	char key[32];
	long at, end;

	if (strlen(name) + 4 > sizeof(key))
		return 0;
	key[0] = ',';
	key[1] = ' ';
	memcpy(key + 2, name, strlen(name));
	key[2 + strlen(name)] = '=';
	key[3 + strlen(name)] = '\0';
	if ((at = find(&m, key)) < 0)
		return 0;
	take(&m, (size_t)at + strlen(key));
	end = find(&m, ", ");
	value->p = m.p;
	value->n = end < 0 ? m.n : (size_t)end;
	return 1;
}

/* starts_at - s holds lit at offset off */
static int starts_at(const span *s, size_t off, const char *lit)
{
	span t = *s;

	if (off > t.n)
		return 0;
	take(&t, off);
	return starts(&t, lit);
}

/* address_len - the length of the address at the start of s (up to its ">"), or -1
 *
 * local@domain where local is a quoted string ("..." with backslash
 * escapes) or a run without white space, quotes, "<", ">", "," or "@";
 * domain holds no white space, quotes, "<", ">" or ",". "<>" is length 0.
 */
static long address_len(const span *s)
{
	size_t i = 0;

	if (s->n && s->p[0] == '"') {
		for (i = 1; i < s->n && s->p[i] != '"'; i++)
			if (s->p[i] == '\\')
				i++;
		if (i >= s->n)
			return -1;
		i++;
	} else {
		while (i < s->n && !strchr(" \t\"<>,@", s->p[i]))
			i++;
	}
	if (i < s->n && s->p[i] == '@') {
		i++;
		while (i < s->n && !strchr(" \t\"<>,@", s->p[i]))
			i++;
	}
	if (i >= s->n || s->p[i] != '>')
		return -1;
	return (long)i;
}

/* parse_delivery - "QUEUEID: to=<RCPT>, [orig_to=<...>, ]relay=R, ..., status=S (REASON)" */
static int parse_delivery(span m, ptls_ml_line *out)
{
	span id = m, rcpt, v;
	long colon = find(&m, ": to=<"), end, end2, at;
	size_t i;
	char *dom;

	if (colon <= 0 || !copy(out->queue_id, sizeof(out->queue_id), m.p, (size_t)colon))
		return 0;
	for (i = 0; i < (size_t)colon; i++)
		if (!isalnum((unsigned char)id.p[i]))
			return 0;
	take(&m, (size_t)colon + strlen(": to=<"));
	/* The address is read by its syntax, not by searching for ">, relay=":
	 * a quoted local part may hold that very text (a forged delivery). */
	if ((end = address_len(&m)) < 0 || !starts_at(&m, (size_t)end, ">, "))
		return 0;
	rcpt.p = m.p;
	rcpt.n = (size_t)end;
	take(&m, (size_t)end + 1);
	if (starts(&m, ", orig_to=<")) {
		take(&m, strlen(", orig_to=<"));
		if ((end2 = address_len(&m)) < 0 || !starts_at(&m, (size_t)end2, ">, "))
			return 0;
		take(&m, (size_t)end2 + 1);
	}
	if (!starts(&m, ", relay="))
		return 0;
	/* the domain: after the last "@" of the address */
	for (at = (long)rcpt.n - 1; at >= 0 && rcpt.p[at] != '@'; at--)
		;
	out->rcpt_domain[0] = '\0';
	if (at >= 0 && rcpt.n - (size_t)at - 1 < sizeof(out->rcpt_domain)) {
		dom = pn_domain_normalise_n(rcpt.p + at + 1, rcpt.n - (size_t)at - 1);
		if (dom && strlen(dom) < sizeof(out->rcpt_domain))
			memcpy(out->rcpt_domain, dom, strlen(dom) + 1);
		pn_free(dom);
	}
	if (!field(m, "relay", &v) || !copy(out->peer, sizeof(out->peer), v.p, v.n))
		return 0;
	if (!field(m, "status", &v))
		return 0;
	for (i = 0; i < v.n && isalpha((unsigned char)v.p[i]); i++)
		;
	if (i == 0 || !copy(out->status, sizeof(out->status), v.p, i))
		return 0;
	/* the reason: from " (" after the status word to the last ")" */
	out->text[0] = '\0';
	{
		const char *r = v.p + i, *stop = m.p + m.n;
		size_t rn;
		if (stop - r > 2 && r[0] == ' ' && r[1] == '(') {
			r += 2;
			while (stop > r && stop[-1] != ')')
				stop--;
			if (stop > r) {
				rn = (size_t)(stop - 1 - r);
				if (rn >= sizeof(out->text))
					rn = sizeof(out->text) - 1;
				if (!copy(out->text, sizeof(out->text), r, rn))
					out->text[0] = '\0';
			}
		}
	}
	return PTLS_ML_DELIVERY;
}

/* ptls_maillog_parse - one log line (see maillog.h) */
int ptls_maillog_parse(const char *line, size_t len, time_t now, ptls_ml_line *out)
{
	span s = {line, len}, prog;
	long bracket, pid;
	int kind;

	memset(out, 0, sizeof(*out));
	if (len > 0 && line[len - 1] == '\n')
		s.n--;
	if (s.n > 10 && isdigit((unsigned char)s.p[0]) && s.p[10] == 'T') {
		if (!stamp_rfc3339(&s, &out->when))
			return PTLS_ML_OTHER;
	} else if (!stamp_classic(&s, now, &out->when)) {
		return PTLS_ML_OTHER;
	}
	if (!expect(&s, " "))
		return PTLS_ML_OTHER;
	while (s.n && s.p[0] != ' ')	/* host name */
		take(&s, 1);
	if (!expect(&s, " "))
		return PTLS_ML_OTHER;
	if ((bracket = find(&s, "[")) <= 0)
		return PTLS_ML_OTHER;
	prog.p = s.p;
	prog.n = (size_t)bracket;
	if (prog.n < 5 || memcmp(prog.p + prog.n - 5, "/smtp", 5) != 0
	    || !copy(out->program, sizeof(out->program), prog.p, prog.n)
	    || memchr(prog.p, ' ', prog.n) != NULL)
		return PTLS_ML_OTHER;
	take(&s, (size_t)bracket + 1);
	if ((pid = digits(&s, 10)) < 0 || !expect(&s, "]: "))
		return PTLS_ML_OTHER;
	out->pid = pid;
	if ((kind = parse_tls(s, out)) || (kind = parse_verify_fail(s, out))
	    || (kind = parse_delivery(s, out))) {
		out->kind = kind;
		return kind;
	}
	memset(out, 0, sizeof(*out));
	return PTLS_ML_OTHER;
}

/* ptls_ml_tracker_init - no session known */
void ptls_ml_tracker_init(ptls_ml_tracker *t)
{
	memset(t, 0, sizeof(*t));
}

/* slot - the process's session; create (reusing the oldest) when asked */
static ptls_ml_session *slot(ptls_ml_tracker *t, const char *program, long pid, int create)
{
	ptls_ml_session *oldest = &t->s[0];
	size_t i;

	for (i = 0; i < PTLS_ML_SESSIONS; i++) {
		ptls_ml_session *x = &t->s[i];
		if (x->seq && x->pid == pid && strcmp(x->program, program) == 0)
			return x;
		if (x->seq < oldest->seq)
			oldest = x;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	memcpy(oldest->program, program, strlen(program) + 1);
	oldest->pid = pid;
	oldest->seq = ++t->seq;
	return oldest;
}

/* ptls_ml_failure - the RFC 8460 result type of a TLS failure in Postfix's reason, or "" */
const char *ptls_ml_failure(const char *reason, const char *verify_fail)
{
	if (strstr(reason, "TLS is required, but was not offered")
	    || strstr(reason, "refused to start TLS") || strstr(reason, "TLS is required, but host"))
		return "starttls-not-supported";
	if (strstr(reason, "Server certificate not verified"))
		return "certificate-host-mismatch";
	if (strstr(reason, "Server certificate not trusted"))
		return verify_fail && strstr(verify_fail, "expired") ? "certificate-expired"
		       : "certificate-not-trusted";
	if (strstr(reason, "Cannot start TLS") || strstr(reason, "handshake failure")
	    || strstr(reason, "TLS handshake"))
		return "validation-failure";
	return "";
}

/* ptls_ml_day - the UTC day of a time */
void ptls_ml_day(time_t when, char day[11])
{
	struct tm tm;

	gmtime_r(&when, &tm);
	if (tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
		memcpy(day, "0000-00-00", 11);
	else
		strftime(day, 11, "%Y-%m-%d", &tm);
}

/* trust_name - Postfix's trust word in the ledger's spelling */
static const char *trust_name(const char *t)
{
	return strcmp(t, "Verified") == 0 ? "verified" : strcmp(t, "Trusted") == 0 ? "trusted"
	       : strcmp(t, "Untrusted") == 0 ? "untrusted" : strcmp(t, "Anonymous") == 0
	       ? "anonymous" : "none";
}

/* ptls_ml_track - remember TLS facts per process; a delivery line makes an event */
int ptls_ml_track(ptls_ml_tracker *t, const ptls_ml_line *l, ptls_ml_event *ev)
{
	ptls_ml_session *x;
	const char *bracket;
	int tls;

	switch (l->kind) {
	case PTLS_ML_TLS:
		x = slot(t, l->program, l->pid, 1);
		if (strcmp(x->peer, l->peer) != 0)
			x->verify_fail[0] = '\0';
		memcpy(x->peer, l->peer, sizeof(x->peer));
		memcpy(x->trust, l->trust, sizeof(x->trust));
		memcpy(x->version, l->version, sizeof(x->version));
		memcpy(x->cipher, l->cipher, sizeof(x->cipher));
		x->seq = ++t->seq;
		return 0;
	case PTLS_ML_VERIFY_FAIL:
		x = slot(t, l->program, l->pid, 1);
		if (strcmp(x->peer, l->peer) != 0) {
			x->version[0] = x->trust[0] = x->cipher[0] = '\0';
			memcpy(x->peer, l->peer, sizeof(x->peer));
		}
		memcpy(x->verify_fail, l->text, sizeof(x->verify_fail));
		x->seq = ++t->seq;
		return 0;
	case PTLS_ML_DELIVERY:
		break;
	default:
		return 0;
	}
	if (l->rcpt_domain[0] == '\0')
		return 0;
	if (strcmp(l->status, "sent") && strcmp(l->status, "deferred") && strcmp(l->status, "bounced"))
		return 0;
	x = slot(t, l->program, l->pid, 0);
	if (x && strcmp(x->peer, l->peer) != 0)
		x = NULL;	/* the process's last TLS facts were for another host */
	tls = x && x->version[0];
	memset(ev, 0, sizeof(*ev));
	ptls_ml_day(l->when, ev->day);
	ev->partner = l->rcpt_domain;
	ev->result = strcmp(l->status, "sent") == 0 ? "delivered" : l->status;
	ev->tls = tls ? x->version : "none";
	ev->cipher = tls ? x->cipher : "";
	ev->trust = tls ? trust_name(x->trust) : "none";
	if (strcmp(l->status, "sent") == 0)
		ev->failure = tls ? "" : "starttls-not-supported";
	else
		ev->failure = ptls_ml_failure(l->text, x ? x->verify_fail : NULL);
	ev->detail = *ev->failure && strcmp(l->status, "sent") ? l->text : "";
	bracket = strchr(l->peer, '[');
	if (strcmp(l->peer, "none") != 0) {
		size_t n = bracket ? (size_t)(bracket - l->peer) : strlen(l->peer);
		memcpy(ev->mx_host, l->peer, n);
		ev->mx_host[n] = '\0';
	}
	return 1;
}
