/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics - the fixed registry, its shared slots and its text formats
 * (see metrics.h, which says why the slots live in shared memory)
 *
 * Slot layout: family after family, in enum order. A counter has one
 * slot per label value (one when it has no label). A histogram has, per
 * label value, NBUCKETS slots counting the observations that fell in
 * each finite bucket (not cumulative: one add per observation), one for
 * those above the last bound (+Inf) and one for the sum in nanoseconds;
 * the cumulative counts and _count are made when rendering, from the
 * same reads, so a scrape is always self-consistent.
 */
#include "common/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "unknown"
#endif

/* which families a daemon shows: the common ones and its engines' */
#define G_COMMON	0x01
#define G_TLS		0x02
#define G_SORT		0x04
#define G_ARCHIVE	0x08
#define G_AUDIT		0x10

typedef enum kind { K_GAUGE, K_COUNTER, K_HISTOGRAM } kind;

typedef struct labelset {
	const char *name;
	const char *const *values;
	size_t n;
	const unsigned *groups;	/* per value: shown for these groups; NULL: all */
} labelset;

typedef struct family {
	const char *name;	/* without _total */
	kind k;
	unsigned group;
	const labelset *labels;	/* NULL: no label */
	const char *help;
} family;

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const verdicts[] = {"accept", "reject", "tempfail", "discard", "quarantine"};
static const char *const steps[] = {"connect", "helo", "envfrom", "envrcpt", "data", "header",
				    "eoh", "body", "eom", "abort", "close"};
static const char *const files[] = {"archive_object", "archive_journal", "audit_trail"};
static const unsigned file_groups[] = {G_ARCHIVE, G_ARCHIVE, G_AUDIT};
static const char *const tls_outcomes[] = {"none", "pass", "error", "reject", "tempfail",
					   "hold", "tag", "log"};
static const char *const sort_actions[] = {"keep", "fileinto", "redirect", "discard", "reject",
					   "ereject", "addheader", "deleteheader",
					   "implicit_keep"};

static const labelset l_verdict = {"verdict", verdicts, N(verdicts), NULL};
static const labelset l_conn = {"verdict", verdicts, 4, NULL};	/* no quarantine */
static const labelset l_step = {"step", steps, N(steps), NULL};
static const labelset l_file = {"file", files, N(files), file_groups};
static const labelset l_tls = {"outcome", tls_outcomes, N(tls_outcomes), NULL};
static const labelset l_sort = {"action", sort_actions, N(sort_actions), NULL};

static const family families[PN_M__COUNT] = {
	[PN_M_BUILD_INFO] = {"postern_build_info", K_GAUGE, G_COMMON, NULL,
		"Postern program and version (always 1)."},
	[PN_M_MESSAGES] = {"postern_messages", K_COUNTER, G_COMMON, &l_verdict,
		"Messages by the answer the MTA got: at end of message, or at the step where "
		"this milter refused or accepted the message before its end."},
	[PN_M_CONNECTIONS] = {"postern_connections", K_COUNTER, G_COMMON, &l_conn,
		"SMTP sessions by the answer given at connect or HELO (accept: not refused "
		"there)."},
	[PN_M_STEP_SECONDS] = {"postern_milter_step_seconds", K_HISTOGRAM, G_COMMON, &l_step,
		"Time spent answering each milter protocol step."},
	[PN_M_FSYNC_SECONDS] = {"postern_fsync_seconds", K_HISTOGRAM, G_COMMON, &l_file,
		"Time fsync/fdatasync took to make archive objects, archive journals and "
		"the audit trail durable."},
	[PN_M_FSYNC_FAILURES] = {"postern_fsync_failures", K_COUNTER, G_COMMON, &l_file,
		"fsync/fdatasync calls that failed."},
	[PN_M_WORKER_RESTARTS] = {"postern_worker_restarts", K_COUNTER, G_COMMON, NULL,
		"Workers the supervisor restarted after they died of a signal."},
	[PN_M_RELOADS] = {"postern_config_reloads", K_COUNTER, G_COMMON, NULL,
		"Configuration reloads that succeeded (SIGHUP or a watched file changed)."},
	[PN_M_RELOAD_FAILURES] = {"postern_config_reload_failures", K_COUNTER, G_COMMON, NULL,
		"Configuration reloads that failed (the running configuration stayed)."},
	[PN_M_TLS_POLICY] = {"postern_tls_policy", K_COUNTER, G_TLS, &l_tls,
		"postern-tls decisions at MAIL and RCPT: no policy, policy passed, error, or "
		"the action of the violated policy."},
	[PN_M_SORT_ACTIONS] = {"postern_sort_actions", K_COUNTER, G_SORT, &l_sort,
		"postern-sort Sieve actions, per recipient."},
	[PN_M_ARCHIVE_STORED] = {"postern_archive_stored", K_COUNTER, G_ARCHIVE, NULL,
		"Messages archived as a new object."},
	[PN_M_ARCHIVE_DEDUPLICATED] = {"postern_archive_deduplicated", K_COUNTER, G_ARCHIVE,
		NULL, "Messages archived whose object was already stored."},
	[PN_M_ARCHIVE_FAILURES] = {"postern_archive_failures", K_COUNTER, G_ARCHIVE, NULL,
		"Messages that could not be archived (answered with on_error)."},
	[PN_M_ARCHIVE_BYTES] = {"postern_archive_stored_bytes", K_COUNTER, G_ARCHIVE, NULL,
		"Bytes written to the object store (compressed, encrypted)."},
	[PN_M_AUDIT_RECORDS] = {"postern_audit_records", K_COUNTER, G_AUDIT, NULL,
		"Audit records appended to the trail."},
	[PN_M_AUDIT_BYTES] = {"postern_audit_bytes", K_COUNTER, G_AUDIT, NULL,
		"Bytes of audit records appended to the trail."},
	[PN_M_AUDIT_WRITE_FAILURES] = {"postern_audit_write_failures", K_COUNTER, G_AUDIT, NULL,
		"Audit records that could not be written or synced."},
	[PN_M_AUDIT_SHIP_FAILURES] = {"postern_audit_ship_failures", K_COUNTER, G_AUDIT, NULL,
		"Failed attempts to ship trail records to the central store."},
};

/* histogram bounds: 100 us to 10 s, for milter steps and fsync alike */
#define NBUCKETS 15
static const char *const bucket_le[NBUCKETS] = {
	"0.0001", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
	"0.5", "1.0", "2.5", "5.0", "10.0"
};
static const uint64_t bucket_ns[NBUCKETS] = {
	100000ULL, 500000ULL, 1000000ULL, 2500000ULL, 5000000ULL, 10000000ULL, 25000000ULL,
	50000000ULL, 100000000ULL, 250000000ULL, 500000000ULL, 1000000000ULL, 2500000000ULL,
	5000000000ULL, 10000000000ULL
};
#define HSLOTS (NBUCKETS + 2)	/* finite buckets, +Inf, sum */

uint64_t *pn_metrics_slots;
static size_t nslots;
static size_t base[PN_M__COUNT];
static unsigned exposed = G_COMMON;
static const char *daemon_name = "postern";

static size_t nvalues(const family *f)
{
	return f->labels ? f->labels->n : 1;
}

static size_t family_slots(const family *f)
{
	if (f->k == K_GAUGE)
		return 0;
	return nvalues(f) * (f->k == K_HISTOGRAM ? HSLOTS : 1);
}

/* pn_metrics_init - map the slots (shared: before the supervisor forks) */
int pn_metrics_init(int shared)
{
	size_t n = 0;
	void *p;

	if (pn_metrics_slots != NULL)
		return 0;
	for (int f = 0; f < PN_M__COUNT; f++) {
		base[f] = n;
		n += family_slots(&families[f]);
	}
	p = mmap(NULL, n * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	nslots = n;
	pn_metrics_slots = p;
	return 0;
}

/* pn_metrics_free - unmap and forget the exposed engines (tests);
 * updates become no-ops again */
void pn_metrics_free(void)
{
	exposed = G_COMMON;
	if (pn_metrics_slots == NULL)
		return;
	munmap(pn_metrics_slots, nslots * sizeof(uint64_t));
	pn_metrics_slots = NULL;
	nslots = 0;
}

void pn_metrics_set_daemon(const char *name)
{
	daemon_name = name;
}

void pn_metrics_expose(const char *engine)
{
	if (strcmp(engine, "tls") == 0)
		exposed |= G_TLS;
	else if (strcmp(engine, "sort") == 0)
		exposed |= G_SORT;
	else if (strcmp(engine, "archive") == 0)
		exposed |= G_ARCHIVE;
	else if (strcmp(engine, "audit") == 0)
		exposed |= G_AUDIT;
}

/* slot - family f's slot for label value label, or NULL when out of range */
static uint64_t *slot(pn_metric f, unsigned label)
{
	if ((unsigned)f >= PN_M__COUNT || label >= nvalues(&families[f])
	    || families[f].k == K_GAUGE)
		return NULL;
	return pn_metrics_slots + base[f] + label * (families[f].k == K_HISTOGRAM ? HSLOTS : 1);
}

void pn_metric_add_slow(pn_metric f, unsigned label, uint64_t n)
{
	uint64_t *s = slot(f, label);

	if (s != NULL && families[f].k == K_COUNTER)
		__atomic_fetch_add(s, n, __ATOMIC_RELAXED);
}

uint64_t pn_metric_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* never 0: 0 means "metrics were off when the time was taken" */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + 1;
}

void pn_metric_observe_slow(pn_metric f, unsigned label, uint64_t since)
{
	uint64_t now = pn_metric_clock();

	pn_metric_observe_ns(f, label, now > since ? now - since : 0);
}

/* pn_metric_observe_ns - one observation of ns nanoseconds */
void pn_metric_observe_ns(pn_metric f, unsigned label, uint64_t ns)
{
	uint64_t *s;
	size_t i;

	if (pn_metrics_slots == NULL || (s = slot(f, label)) == NULL
	    || families[f].k != K_HISTOGRAM)
		return;
	/* le is "less than or equal": exactly 1 ms counts in le="0.001" */
	for (i = 0; i < NBUCKETS && ns > bucket_ns[i]; i++)
		;
	__atomic_fetch_add(&s[i], 1, __ATOMIC_RELAXED);		/* i == NBUCKETS: +Inf */
	__atomic_fetch_add(&s[NBUCKETS + 1], ns, __ATOMIC_RELAXED);
}

/* timed_sync - fsync or fdatasync, timed and counted, errno kept */
static int timed_sync(unsigned file, int fd, int data_only)
{
	uint64_t t0 = pn_metric_now();
	int rc = data_only ? fdatasync(fd) : fsync(fd), e = errno;

	pn_metric_observe(PN_M_FSYNC_SECONDS, file, t0);
	if (rc < 0)
		pn_metric_inc(PN_M_FSYNC_FAILURES, file);
	errno = e;
	return rc;
}

int pn_metric_fsync(unsigned file, int fd)
{
	return timed_sync(file, fd, 0);
}

int pn_metric_fdatasync(unsigned file, int fd)
{
	return timed_sync(file, fd, 1);
}

/* pn_metric_value - a counter's value, or a histogram's count (tests) */
uint64_t pn_metric_value(pn_metric f, unsigned label)
{
	uint64_t *s, total = 0;

	if (pn_metrics_slots == NULL || (s = slot(f, label)) == NULL)
		return 0;
	if (families[f].k == K_COUNTER)
		return __atomic_load_n(s, __ATOMIC_RELAXED);
	for (int i = 0; i <= NBUCKETS; i++)
		total += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
	return total;
}

/* --- rendering ---------------------------------------------------------- */

static uint64_t load(size_t i)
{
	return pn_metrics_slots ? __atomic_load_n(&pn_metrics_slots[i], __ATOMIC_RELAXED) : 0;
}

static int value_shown(const labelset *l, size_t v)
{
	return l == NULL || l->groups == NULL || (l->groups[v] & exposed);
}

/* shown - the family has a sample to show (postern-tls has no fsync) */
static int shown(const family *f)
{
	if (!(f->group & exposed))
		return 0;
	for (size_t v = 0; v < nvalues(f); v++)
		if (value_shown(f->labels, v))
			return 1;
	return 0;
}

/* labels - {name="value"} or {name="value",le="x"} or nothing */
static void labels(pn_buf *out, const labelset *l, size_t v, const char *le)
{
	if (l == NULL && le == NULL)
		return;
	pn_buf_putc(out, '{');
	if (l)
		pn_buf_printf(out, "%s=\"%s\"%s", l->name, l->values[v], le ? "," : "");
	if (le)
		pn_buf_printf(out, "le=\"%s\"", le);
	pn_buf_putc(out, '}');
}

static void render_histogram(pn_buf *out, const family *f, size_t first, size_t v)
{
	size_t s = first + v * HSLOTS;
	uint64_t cum = 0, sum;

	for (int i = 0; i <= NBUCKETS; i++) {
		cum += load(s + (size_t)i);
		pn_buf_printf(out, "%s_bucket", f->name);
		labels(out, f->labels, v, i < NBUCKETS ? bucket_le[i] : "+Inf");
		pn_buf_printf(out, " %llu\n", (unsigned long long)cum);
	}
	sum = load(s + NBUCKETS + 1);
	pn_buf_printf(out, "%s_sum", f->name);
	labels(out, f->labels, v, NULL);
	pn_buf_printf(out, " %llu.%09llu\n", (unsigned long long)(sum / 1000000000ULL),
		      (unsigned long long)(sum % 1000000000ULL));
	pn_buf_printf(out, "%s_count", f->name);
	labels(out, f->labels, v, NULL);
	pn_buf_printf(out, " %llu\n", (unsigned long long)cum);
}

/* pn_metrics_render - every exposed family, Prometheus 0.0.4 or OpenMetrics */
void pn_metrics_render(pn_buf *out, int openmetrics)
{
	static const char *const type_name[] = {"gauge", "counter", "histogram"};

	for (int i = 0; i < PN_M__COUNT; i++) {
		const family *f = &families[i];
		/* 0.0.4 names a counter family by its samples; OpenMetrics without _total */
		const char *suffix = f->k == K_COUNTER ? "_total" : "";
		const char *head_suffix = openmetrics ? "" : suffix;

		if (!shown(f))
			continue;
		pn_buf_printf(out, "# HELP %s%s %s\n", f->name, head_suffix, f->help);
		pn_buf_printf(out, "# TYPE %s%s %s\n", f->name, head_suffix, type_name[f->k]);
		if (i == PN_M_BUILD_INFO) {
			/* both values are fixed when the program is built */
			pn_buf_printf(out, "%s{daemon=\"%s\",version=\"%s\"} 1\n", f->name,
				      daemon_name, POSTERN_VERSION);
			continue;
		}
		for (size_t v = 0; v < nvalues(f); v++) {
			if (!value_shown(f->labels, v))
				continue;
			if (f->k == K_HISTOGRAM) {
				render_histogram(out, f, base[i], v);
				continue;
			}
			pn_buf_printf(out, "%s%s", f->name, suffix);
			labels(out, f->labels, v, NULL);
			pn_buf_printf(out, " %llu\n", (unsigned long long)load(base[i] + v));
		}
	}
	if (openmetrics)
		pn_buf_puts(out, "# EOF\n");
}

/* pn_metrics_http - GET /metrics for common/http.h */
pn_http_response *pn_metrics_http(const pn_http_request *r, void *ctx)
{
	const char *accept;
	pn_http_response *resp;
	int om;

	(void)ctx;
	if (strcmp(r->path, "/metrics") != 0)
		return pn_http_text(404, "Not found: metrics are at /metrics");
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		resp = pn_http_text(405, "Method not allowed");
		pn_http_set_header(resp, "Allow", "GET, HEAD");
		return resp;
	}
	accept = pn_http_header(r, "Accept");
	om = accept != NULL && strstr(accept, "application/openmetrics-text") != NULL;
	resp = pn_http_response_new(200, om ? "application/openmetrics-text; version=1.0.0; "
					      "charset=utf-8"
					    : "text/plain; version=0.0.4; charset=utf-8");
	pn_metrics_render(pn_http_body(resp), om);
	return resp;
}
