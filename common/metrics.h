/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	metrics - Postern's fixed registry of Prometheus/OpenMetrics counters
 * SYNOPSIS
 *	#include "common/metrics.h"
 *
 *	int  pn_metrics_init(int shared);
 *	void pn_metrics_free(void);
 *	int  pn_metrics_enabled(void);
 *	void pn_metrics_set_daemon(const char *name);
 *	void pn_metrics_expose(const char *engine);
 *
 *	void pn_metric_inc(pn_metric f, unsigned label);
 *	void pn_metric_add(pn_metric f, unsigned label, uint64_t n);
 *	uint64_t pn_metric_now(void);
 *	void pn_metric_observe(pn_metric f, unsigned label, uint64_t since);
 *	void pn_metric_observe_ns(pn_metric f, unsigned label, uint64_t ns);
 *	int  pn_metric_fsync(unsigned file, int fd);
 *	int  pn_metric_fdatasync(unsigned file, int fd);
 *	uint64_t pn_metric_value(pn_metric f, unsigned label);
 *
 *	void pn_metrics_render(pn_buf *out, int openmetrics);
 *	pn_http_response *pn_metrics_http(const pn_http_request *r, void *ctx);
 * DESCRIPTION
 *	Every metric Postern exposes is a family of this fixed registry
 *	(enum pn_metric, the table in metrics.c): a name postern_*, a help
 *	text, a type (counter, histogram, gauge) and at most one label whose
 *	values come from a fixed list (the PN_M*_ enums below). No label ever
 *	holds a domain, an address or anything else from mail: the number of
 *	series is known when the program is built.
 *
 *	The values live in one array of 64-bit slots. pn_metrics_init(1)
 *	maps it anonymous and MAP_SHARED: the daemon's supervisor calls it
 *	before it forks the worker, so every worker it starts adds to the
 *	same counters (they never go back to zero when a worker crashes and
 *	is restarted) and the supervisor itself can count those restarts.
 *	pn_metrics_init(0) maps it private to the process (unit tests).
 *	Before init (tools, check, unit tests of other modules) every update
 *	is a no-op that costs one test of a pointer, inline; after init an
 *	update is one relaxed atomic add, no lock. pn_metrics_free() unmaps
 *	them and forgets the exposed engines (tests).
 *
 *	pn_metric_now() is a monotonic time in nanoseconds (0 when metrics
 *	are off, so the clock is not read); pn_metric_observe() adds the
 *	time since then to a histogram, pn_metric_observe_ns() a duration
 *	already measured (bucket bounds are "less or equal", as Prometheus
 *	reads le). pn_metric_fsync() and
 *	pn_metric_fdatasync() are fsync(2)/fdatasync(2) that also feed the
 *	fsync histogram and failure counter; errno is kept.
 *
 *	pn_metrics_set_daemon() names the program in postern_build_info;
 *	pn_metrics_expose() adds an engine's families ("tls", "sort",
 *	"archive", "audit"; other names add nothing) to those rendered: a
 *	daemon shows the common families and its engines' only.
 *	pn_metrics_render() writes them in the Prometheus text format 0.0.4,
 *	or in OpenMetrics 1.0 (counter families named without _total in
 *	HELP and TYPE, "# EOF" at the end). pn_metrics_http() is the handler
 *	for common/http.h: GET (or HEAD) /metrics, in OpenMetrics when the
 *	Accept header asks for application/openmetrics-text; 404 elsewhere.
 * DIAGNOSTICS
 *	pn_metrics_init() returns 0, or -1 with errno when mmap fails.
 */
#ifndef PN_METRICS_H
#define PN_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "common/http.h"

typedef enum pn_metric {
	PN_M_BUILD_INFO,		/* gauge, always 1 */
	PN_M_MESSAGES,			/* label pn_mverdict */
	PN_M_CONNECTIONS,		/* label pn_mverdict */
	PN_M_STEP_SECONDS,		/* histogram, label pn_mstep */
	PN_M_FSYNC_SECONDS,		/* histogram, label pn_mfile */
	PN_M_FSYNC_FAILURES,		/* label pn_mfile */
	PN_M_WORKER_RESTARTS,
	PN_M_RELOADS,
	PN_M_RELOAD_FAILURES,
	PN_M_TLS_POLICY,		/* label pn_mtls */
	PN_M_SORT_ACTIONS,		/* label pn_msort */
	PN_M_ARCHIVE_STORED,
	PN_M_ARCHIVE_DEDUPLICATED,
	PN_M_ARCHIVE_FAILURES,
	PN_M_ARCHIVE_BYTES,
	PN_M_AUDIT_RECORDS,
	PN_M_AUDIT_BYTES,
	PN_M_AUDIT_WRITE_FAILURES,
	PN_M_AUDIT_SHIP_FAILURES,
	PN_M__COUNT
} pn_metric;

/* verdict: what the MTA was told for a message or a connection */
enum pn_mverdict { PN_MV_ACCEPT, PN_MV_REJECT, PN_MV_TEMPFAIL, PN_MV_DISCARD, PN_MV_QUARANTINE };

/* step: the milter callback measured */
enum pn_mstep {
	PN_MS_CONNECT, PN_MS_HELO, PN_MS_ENVFROM, PN_MS_ENVRCPT, PN_MS_DATA, PN_MS_HEADER,
	PN_MS_EOH, PN_MS_BODY, PN_MS_EOM, PN_MS_ABORT, PN_MS_CLOSE
};

/* file: what was made durable */
enum pn_mfile { PN_MF_ARCHIVE_OBJECT, PN_MF_ARCHIVE_JOURNAL, PN_MF_AUDIT_TRAIL };

/* outcome of a postern-tls policy decision; the last five follow
 * ptls_action (milters/tls/policy.h): PN_MT_REJECT + action */
enum pn_mtls {
	PN_MT_NONE, PN_MT_PASS, PN_MT_ERROR, PN_MT_REJECT, PN_MT_TEMPFAIL, PN_MT_HOLD, PN_MT_TAG,
	PN_MT_LOG
};

/* postern-sort actions: sv_act_type's order (milters/sort/sieve.h), then
 * the implicit keep */
enum pn_msort {
	PN_MSORT_KEEP, PN_MSORT_FILEINTO, PN_MSORT_REDIRECT, PN_MSORT_DISCARD, PN_MSORT_REJECT,
	PN_MSORT_EREJECT, PN_MSORT_ADDHEADER, PN_MSORT_DELETEHEADER, PN_MSORT_IMPLICIT_KEEP
};

/* the slots (layout: metrics.c), NULL while metrics are off */
extern uint64_t *pn_metrics_slots;

int pn_metrics_init(int shared);
void pn_metrics_free(void);
void pn_metrics_set_daemon(const char *name);
void pn_metrics_expose(const char *engine);
void pn_metric_add_slow(pn_metric f, unsigned label, uint64_t n);
void pn_metric_observe_slow(pn_metric f, unsigned label, uint64_t since);
void pn_metric_observe_ns(pn_metric f, unsigned label, uint64_t ns);
uint64_t pn_metric_clock(void);
int pn_metric_fsync(unsigned file, int fd);
int pn_metric_fdatasync(unsigned file, int fd);
uint64_t pn_metric_value(pn_metric f, unsigned label);
void pn_metrics_render(pn_buf *out, int openmetrics);
pn_http_response *pn_metrics_http(const pn_http_request *r, void *ctx);

static inline int pn_metrics_enabled(void)
{
	return pn_metrics_slots != NULL;
}

static inline void pn_metric_add(pn_metric f, unsigned label, uint64_t n)
{
	if (__builtin_expect(pn_metrics_slots != NULL, 0))
		pn_metric_add_slow(f, label, n);
}

static inline void pn_metric_inc(pn_metric f, unsigned label)
{
	pn_metric_add(f, label, 1);
}

static inline uint64_t pn_metric_now(void)
{
	return __builtin_expect(pn_metrics_slots != NULL, 0) ? pn_metric_clock() : 0;
}

static inline void pn_metric_observe(pn_metric f, unsigned label, uint64_t since)
{
	if (__builtin_expect(pn_metrics_slots != NULL, 0) && since != 0)
		pn_metric_observe_slow(f, label, since);
}

#endif
