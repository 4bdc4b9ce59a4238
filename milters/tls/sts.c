/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sts - the MTA-STS cache, its file and its refresh thread (see sts.h)
 *
 * Why a thread: Postfix waits for the socketmap answer while a delivery
 * agent sits idle, and a partner's slow HTTPS server must not hold mail
 * to everybody else. So the socketmap thread only reads the cache and
 * queues work; one refresh thread does the DNS and HTTPS (each bounded
 * by sts_fetch_timeout) and wakes the waiting answers. The thread starts
 * on the first answer, not in ptls_sts_new(): load() also runs in the
 * tools and before the daemon forks.
 *
 * The cache file is rewritten whole (pn_replace_file: a temporary file
 * and rename) after each change; a crash leaves the old or the new one.
 * Its lines are "DOMAIN ID FETCHED MODE MAX_AGE MX,MX..."; each is
 * checked by re-parsing it as a policy, so a damaged file cannot hold
 * anything a server could not have published.
 */
#include "milters/tls/sts.h"
#include "milters/tls/sts_fetch.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/deadline.h"
#include "common/domain.h"
#include "common/fileio.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX 256		/* domains waiting for the refresh thread */
#define NEGATIVE_RECHECK 300	/* seconds before a domain without policy is asked again */
#define CACHE_FILE_MAX (16 * 1024 * 1024)

typedef struct entry {
	char *domain;
	char id[PTLS_STS_ID_MAX + 1];	/* id of the cached policy */
	ptls_sts_policy *policy;	/* NULL: none known */
	long long fetched;		/* wall clock of the policy fetch */
	long long checked;		/* wall clock of the last TXT check (0: never) */
	int queued, busy;
	char *why;			/* the last failure, or NULL */
	struct entry *next;
} entry;

struct ptls_sts {
	ptls_sts_config cfg;
	char *cache_file;
	ptls_sts_net net;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_mutex_t save_mu;	/* one writer of the cache file at a time */
	entry *list;
	size_t count;
	char *queue[QUEUE_MAX];
	size_t qhead, qlen;
	pthread_t worker;
	int started, stop;
	int refs;			/* the owner, and the refresh thread while it runs */
	int fetching;			/* the refresh thread is in a lookup or fetch */
};

static long long wall(void)
{
	return (long long)time(NULL);
}

static entry *find(ptls_sts *s, const char *domain)
{
	entry *e;

	for (e = s->list; e; e = e->next)
		if (strcmp(e->domain, domain) == 0)
			return e;
	return NULL;
}

static int valid(const entry *e, long long now)
{
	return e->policy != NULL && e->fetched + e->policy->max_age > now;
}

static void entry_free(entry *e)
{
	ptls_sts_policy_free(e->policy);
	pn_free(e->why);
	pn_free(e->domain);
	pn_free(e);
}

/* add - a new entry; when full, the least recently checked idle one makes room */
static entry *add(ptls_sts *s, const char *domain)
{
	entry *e, **pp, **victim = NULL;

	if (s->count >= s->cfg.cache_max) {
		for (pp = &s->list; *pp; pp = &(*pp)->next)
			if (!(*pp)->queued && !(*pp)->busy
			    && (victim == NULL || (*pp)->checked < (*victim)->checked))
				victim = pp;
		if (victim == NULL)
			return NULL;
		e = *victim;
		*victim = e->next;
		entry_free(e);
		s->count--;
	}
	e = pn_calloc(1, sizeof(*e));
	e->domain = pn_strdup(domain);
	e->next = s->list;
	s->list = e;
	s->count++;
	return e;
}

/* policy_text - a policy written back in RFC 8461 form (for the cache file check) */
static void policy_line(pn_buf *b, const entry *e)
{
	size_t i;

	pn_buf_printf(b, "%s %s %lld %s %lld ", e->domain, e->id, e->fetched,
		      ptls_sts_mode_name(e->policy->mode), e->policy->max_age);
	for (i = 0; i < e->policy->mx_count; i++)
		pn_buf_printf(b, "%s%s", i ? "," : "", e->policy->mx[i]);
	if (e->policy->mx_count == 0)
		pn_buf_puts(b, "-");
	pn_buf_putc(b, '\n');
}

/* save - write every valid policy to the cache file */
static void save(ptls_sts *s)
{
	pn_buf b;
	entry *e;
	const char *step = "";
	long long now = wall();

	if (s->cache_file == NULL)
		return;
	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "# postern-tls MTA-STS cache: DOMAIN ID FETCHED MODE MAX_AGE MX,...\n");
	pthread_mutex_lock(&s->mu);
	for (e = s->list; e; e = e->next)
		if (valid(e, now))
			policy_line(&b, e);
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&s->save_mu);
	if (pn_replace_file(s->cache_file, pn_buf_str(&b), pn_buf_len(&b), 0, &step) < 0)
		pn_log(PN_LOG_WARN, "sts_cache_file %s: %s: %s", s->cache_file, step,
		       strerror(errno));
	pthread_mutex_unlock(&s->save_mu);
	pn_buf_free(&b);
}

/* load_line - one cache file line into the cache; -1 when malformed */
static int load_line(ptls_sts *s, char *line, long long now)
{
	char *f[6], *save = NULL, *mx, *err = NULL, *norm;
	ptls_sts_policy *p;
	long long fetched;
	pn_buf text;
	entry *e;
	int i;

	for (i = 0; i < 6; i++)
		if ((f[i] = strtok_r(i ? NULL : line, " ", &save)) == NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL || strlen(f[1]) > PTLS_STS_ID_MAX
	    || (norm = pn_domain_normalise(f[0])) == NULL)
		return -1;
	fetched = strtoll(f[2], NULL, 10);
	pn_buf_init(&text, 0);
	pn_buf_printf(&text, "version: STSv1\nmode: %s\nmax_age: %s\n", f[3], f[4]);
	if (strcmp(f[5], "-") != 0)
		for (mx = strtok_r(f[5], ",", &save); mx; mx = strtok_r(NULL, ",", &save))
			pn_buf_printf(&text, "mx: %s\n", mx);
	p = ptls_sts_policy_parse(pn_buf_str(&text), pn_buf_len(&text), &err);
	pn_buf_free(&text);
	pn_free(err);
	if (p == NULL || fetched > now + 86400 || fetched + p->max_age <= now
	    || strcmp(f[0], norm) != 0 || (e = find(s, norm)) != NULL
	    || (e = add(s, norm)) == NULL) {
		ptls_sts_policy_free(p);
		pn_free(norm);
		return p == NULL ? -1 : 0;	/* expired or repeated lines are just dropped */
	}
	pn_free(norm);
	snprintf(e->id, sizeof(e->id), "%s", f[1]);
	e->policy = p;
	e->fetched = fetched;
	return 0;
}

/* load - read the cache file, if any */
static void load(ptls_sts *s)
{
	size_t len = 0, bad = 0, n = 0;
	char *text, *line, *save = NULL;
	long long now = wall();

	if (s->cache_file == NULL)
		return;
	if ((text = pn_read_file(s->cache_file, CACHE_FILE_MAX, &len)) == NULL) {
		if (errno != ENOENT)
			pn_log(PN_LOG_WARN, "sts_cache_file %s: %s (starting with an empty cache)",
			       s->cache_file, strerror(errno));
		return;
	}
	if (memchr(text, '\0', len) != NULL) {
		pn_log(PN_LOG_WARN, "sts_cache_file %s: NUL byte (starting with an empty cache)",
		       s->cache_file);
		pn_free(text);
		return;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (*line == '#')
			continue;
		if (load_line(s, line, now) < 0)
			bad++;
		else
			n++;
	}
	if (bad)
		pn_log(PN_LOG_WARN, "sts_cache_file %s: %zu malformed lines ignored", s->cache_file,
		       bad);
	pn_free(text);
}

ptls_sts *ptls_sts_new(const ptls_sts_config *cfg, char **err)
{
	ptls_sts *s = pn_calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	s->cfg = *cfg;
	if (s->cfg.cache_max == 0)
		s->cfg.cache_max = 10000;
	if (s->cfg.lookup_timeout_ms <= 0)
		s->cfg.lookup_timeout_ms = 2000;
	if (s->cfg.refresh_interval <= 0)
		s->cfg.refresh_interval = 3600;
	if (ptls_sts_net_init(&s->net, cfg->resolver, cfg->ca_file, cfg->https_port,
			      cfg->fetch_timeout_ms, err) < 0) {
		pn_free(s);
		return NULL;
	}
	s->cfg.resolver = s->cfg.ca_file = NULL;	/* not kept: net holds what it needs */
	s->cfg.cache_file = NULL;
	s->cache_file = cfg->cache_file && *cfg->cache_file ? pn_strdup(cfg->cache_file) : NULL;
	s->refs = 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->save_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->work, &ca);
	pthread_cond_init(&s->done, &ca);
	pthread_condattr_destroy(&ca);
	load(s);
	return s;
}

/* destroy - free s once neither its owner nor its thread uses it */
static void destroy(ptls_sts *s)
{
	entry *e, *next;

	while (s->qlen) {
		pn_free(s->queue[s->qhead]);
		s->qhead = (s->qhead + 1) % QUEUE_MAX;
		s->qlen--;
	}
	for (e = s->list; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	ptls_sts_net_free(&s->net);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->save_mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	pn_free(s->cache_file);
	pn_free(s);
}

/* release - drop one reference; the last one frees */
static void release(ptls_sts *s)
{
	int last;

	pthread_mutex_lock(&s->mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		destroy(s);
}

/*
 * ptls_sts_free - stop the refresh thread and let go. An idle thread is
 * joined (it ends at once, and OpenSSL's per-thread state goes with it);
 * one in the middle of a fetch is detached instead: the last snapshot of
 * a reload is often released by a socketmap request, which must not wait
 * for a partner's slow HTTPS server. That fetch ends by its deadline and
 * the thread then frees.
 */
void ptls_sts_free(ptls_sts *s)
{
	int join;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	join = s->started && !s->fetching;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mu);
	if (join)
		pthread_join(s->worker, NULL);
	else if (s->started)
		pthread_detach(s->worker);
	release(s);
}

/* refresh - TXT check and, for a new id, the HTTPS fetch; 0 when a policy is cached */
static int refresh(ptls_sts *s, const char *domain, char **why_out)
{
	char id[PTLS_STS_ID_MAX + 1] = "", *why = NULL, *body = NULL, *perr = NULL;
	ptls_sts_policy *p = NULL;
	size_t len = 0;
	int r, same = 0, changed = 0, rc;
	long long now;
	entry *e;

	r = ptls_sts_dns_id(&s->net, domain, id, &why);
	pthread_mutex_lock(&s->mu);
	e = find(s, domain);
	same = r == 1 && e && valid(e, wall()) && strcmp(e->id, id) == 0;
	pthread_mutex_unlock(&s->mu);
	if (r == 1 && !same) {
		pn_free(why);
		why = NULL;
		if (ptls_sts_https_policy(&s->net, domain, &body, &len, &why) == 0) {
			if ((p = ptls_sts_policy_parse(body, len, &perr)) == NULL) {
				why = pn_asprintf("policy of %s: %s", domain, perr);
				pn_free(perr);
			}
			pn_free(body);
		}
	}
	pthread_mutex_lock(&s->mu);
	now = wall();
	if ((e = find(s, domain)) == NULL)
		e = add(s, domain);
	if (e == NULL) {
		ptls_sts_policy_free(p);
	} else {
		e->checked = now;
		if (p) {
			ptls_sts_policy_free(e->policy);
			e->policy = p;
			memcpy(e->id, id, sizeof(id));
			e->fetched = now;
			pn_free(e->why);
			e->why = NULL;
			changed = 1;
			pn_log(PN_LOG_INFO, "mta-sts %s: policy id %s fetched: mode %s, max_age %lld, "
			       "%zu mx patterns", domain, id, ptls_sts_mode_name(p->mode), p->max_age,
			       p->mx_count);
		} else if (same) {
			pn_free(e->why);
			e->why = NULL;
		} else {
			/* RFC 8461 5.1: a failure keeps the cached policy until max_age */
			pn_free(e->why);
			e->why = why ? pn_strdup(why) : NULL;
			if (e->policy && !valid(e, now)) {
				ptls_sts_policy_free(e->policy);
				e->policy = NULL;
				changed = 1;
			}
			if (r != 0 || e->policy)
				pn_log(e->policy ? PN_LOG_WARN : PN_LOG_INFO, "mta-sts %s: %s%s", domain,
				       why ? why : "no policy",
				       e->policy ? " (keeping the cached policy)" : "");
		}
	}
	rc = e && valid(e, now) ? 0 : -1;
	pthread_mutex_unlock(&s->mu);
	if (changed)
		save(s);
	if (why_out)
		*why_out = why;
	else
		pn_free(why);
	return rc;
}

/* worker - the refresh thread: one queued domain at a time */
static void *worker(void *arg)
{
	ptls_sts *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		char *domain;
		entry *e;

		if (s->qlen == 0) {
			pthread_cond_wait(&s->work, &s->mu);
			continue;
		}
		domain = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % QUEUE_MAX;
		s->qlen--;
		if ((e = find(s, domain)) != NULL) {
			e->queued = 0;
			e->busy = 1;
		}
		s->fetching = 1;
		pthread_mutex_unlock(&s->mu);
		refresh(s, domain, NULL);
		pthread_mutex_lock(&s->mu);
		s->fetching = 0;
		if ((e = find(s, domain)) != NULL)
			e->busy = 0;
		pn_free(domain);
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	release(s);
	return NULL;
}

/* describe - the answer for a cached entry */
static ptls_sts_result describe(const entry *e, long long now, const char *source, char **answer,
				char **why)
{
	if (!valid(e, now)) {
		*why = pn_asprintf("no MTA-STS policy for %s: %s", e->domain,
				   e->why ? e->why : e->checked ? "none published" : "not looked up yet");
		return PTLS_STS_NONE;
	}
	if (e->policy->mode == PTLS_STS_MODE_ENFORCE) {
		*answer = ptls_sts_postfix_answer(e->policy);
		*why = pn_asprintf("MTA-STS %s: enforce, id %s (%s)", e->domain, e->id, source);
		return PTLS_STS_ENFORCE;
	}
	*why = pn_asprintf("MTA-STS %s: %s, id %s (%s): not enforced", e->domain,
			   ptls_sts_mode_name(e->policy->mode), e->id, source);
	return PTLS_STS_NONE;
}

ptls_sts_result ptls_sts_answer(ptls_sts *s, const char *domain, char **postfix_answer,
				char **why)
{
	char *norm, *whyv = NULL;
	ptls_sts_result r;
	struct timespec until;
	long long now;
	entry *e;
	int waited = 0;

	*postfix_answer = NULL;
	if (why)
		*why = NULL;
	norm = domain ? pn_domain_normalise(domain) : NULL;
	if (norm == NULL || *norm == '[' || strchr(norm, '.') == NULL) {
		/* address literals, ".parent" lookups, single labels: no policy host */
		if (why)
			*why = pn_strdup("no MTA-STS for this next hop: not a domain name");
		pn_free(norm);
		return PTLS_STS_NONE;
	}
	pthread_mutex_lock(&s->mu);
	if (!s->started && !s->stop) {
		if (pthread_create(&s->worker, NULL, worker, s) == 0) {
			s->started = 1;
			s->refs++;	/* the thread's, dropped as it ends */
		} else {
			pn_log(PN_LOG_ERROR, "mta-sts: cannot start the refresh thread");
		}
	}
	now = wall();
	if ((e = find(s, norm)) == NULL)
		e = add(s, norm);
	if (e == NULL) {
		pthread_mutex_unlock(&s->mu);
		if (why)
			*why = pn_asprintf("no MTA-STS policy for %s: cache full of lookups", norm);
		pn_free(norm);
		return PTLS_STS_NONE;
	}
	if (!e->queued && !e->busy && s->started
	    && (e->checked == 0
		|| now - e->checked >= (e->policy ? s->cfg.refresh_interval
				       : (s->cfg.refresh_interval < NEGATIVE_RECHECK
					  ? s->cfg.refresh_interval : NEGATIVE_RECHECK)))) {
		if (s->qlen < QUEUE_MAX) {
			s->queue[(s->qhead + s->qlen) % QUEUE_MAX] = pn_strdup(norm);
			s->qlen++;
			e->queued = 1;
			pthread_cond_signal(&s->work);
		}
	}
	if (!valid(e, now) && (e->queued || e->busy)) {
		/* nothing usable cached: wait for the lookup, but only so long */
		until = pn_deadline_after_ms(CLOCK_MONOTONIC, s->cfg.lookup_timeout_ms);
		while ((e = find(s, norm)) != NULL && (e->queued || e->busy))
			if (pthread_cond_timedwait(&s->done, &s->mu, &until) == ETIMEDOUT)
				break;
		waited = 1;
		now = wall();
	}
	if (e == NULL) {
		r = PTLS_STS_NONE;
		whyv = pn_asprintf("no MTA-STS policy for %s: evicted", norm);
	} else if (!valid(e, now) && (e->queued || e->busy)) {
		r = PTLS_STS_NONE;
		whyv = pn_asprintf("no MTA-STS policy for %s: lookup still running after %lld ms",
				   norm, s->cfg.lookup_timeout_ms);
	} else {
		r = describe(e, now, waited ? "fetched" : "cache", postfix_answer, &whyv);
	}
	pthread_mutex_unlock(&s->mu);
	pn_free(norm);
	if (why)
		*why = whyv;
	else
		pn_free(whyv);
	return r;
}

int ptls_sts_fetch_now(ptls_sts *s, const char *domain, char **why)
{
	char *norm = domain ? pn_domain_normalise(domain) : NULL;
	int rc;

	*why = NULL;
	if (norm == NULL || *norm == '[') {
		*why = pn_strdup("not a domain name");
		pn_free(norm);
		return -1;
	}
	rc = refresh(s, norm, why);
	pn_free(norm);
	return rc;
}

int ptls_sts_mx_report(ptls_sts *s, const char *domain, char **report)
{
	char *hosts[16], *why = NULL, *norm = domain ? pn_domain_normalise(domain) : NULL;
	ptls_sts_policy *copy = NULL;
	ptls_sts_mode mode = PTLS_STS_MODE_NONE;
	int n, i, bad = 0;
	entry *e;
	pn_buf b;

	*report = NULL;
	if (norm == NULL) {
		*report = pn_strdup("not a domain name");
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	if ((e = find(s, norm)) != NULL && valid(e, wall())) {
		/* a private copy of the patterns: the thread may replace e->policy */
		copy = pn_calloc(1, sizeof(*copy));
		copy->mx = pn_calloc(e->policy->mx_count + 1, sizeof(char *));
		for (i = 0; i < (int)e->policy->mx_count; i++)
			copy->mx[i] = pn_strdup(e->policy->mx[i]);
		copy->mx_count = e->policy->mx_count;
		mode = e->policy->mode;
	}
	pthread_mutex_unlock(&s->mu);
	if (copy == NULL) {
		*report = pn_asprintf("no MTA-STS policy cached for %s", norm);
		pn_free(norm);
		return -1;
	}
	n = ptls_sts_dns_mx(&s->net, norm, hosts, 16, &why);
	pn_buf_init(&b, 0);
	if (n <= 0)
		pn_buf_printf(&b, "%s\n", why ? why : "no MX");
	for (i = 0; i < n; i++) {
		int ok = ptls_sts_mx_match(copy, hosts[i]);

		bad += !ok;
		pn_buf_printf(&b, "mx %s: %s\n", hosts[i],
			      ok ? "matches the policy"
			      : mode == PTLS_STS_MODE_ENFORCE
			      ? "does NOT match the policy (enforce: no delivery there)"
			      : "does not match the policy (not enforced)");
		pn_free(hosts[i]);
	}
	pn_free(why);
	pn_free(norm);
	ptls_sts_policy_free(copy);
	*report = pn_buf_steal(&b, NULL);
	return n <= 0 ? -1 : bad;
}

int ptls_sts_cache_lookup(const char *cache_file, const char *domain, ptls_sts_policy **policy,
			  char id[PTLS_STS_ID_MAX + 1])
{
	ptls_sts_config cfg;
	ptls_sts *s;
	char *err = NULL, *norm = domain ? pn_domain_normalise(domain) : NULL;
	entry *e;
	int rc = 0;

	*policy = NULL;
	if (norm == NULL || cache_file == NULL || *cache_file == '\0') {
		pn_free(norm);
		return 0;
	}
	/* the daemon's own reader, no network: the same checks as at start */
	memset(&cfg, 0, sizeof(cfg));
	cfg.cache_file = cache_file;
	cfg.resolver = "127.0.0.1:53";	/* never asked: no thread, no lookup */
	cfg.cache_max = 1000000;
	if ((s = ptls_sts_new(&cfg, &err)) == NULL) {
		pn_free(err);
		pn_free(norm);
		return -1;
	}
	if ((e = find(s, norm)) != NULL && valid(e, wall())) {
		*policy = e->policy;
		e->policy = NULL;
		memcpy(id, e->id, PTLS_STS_ID_MAX + 1);
		rc = 1;
	}
	ptls_sts_free(s);
	pn_free(norm);
	return rc;
}
