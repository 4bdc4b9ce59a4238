/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	micro_socketmap - latency of postern-tls's socketmap under 50 parallel clients
 * SYNOPSIS
 *	micro_socketmap
 * DESCRIPTION
 *	Starts the socketmap server (milters/tls/socketmap.h) in this process
 *	on a unix socket in a temporary directory, answering from a policy
 *	of 1000 partner lines (800 exact domains, 200 ".parent" lines), and
 *	runs 50 client threads at once, each on its own connection as one
 *	Postfix smtp(8) process keeps one: every client sends a request,
 *	waits for the reply, and sends the next, for about
 *	$POSTERN_BENCH_SECONDS wall seconds (default 1). Keys cycle through
 *	partner domains (OK), ".parent" walks (OK) and unknown domains
 *	(NOTFOUND) in equal parts. Each request's round trip (write of the
 *	netstring to the end of its reply) is timed with CLOCK_MONOTONIC:
 *
 *	    tls.socketmap_50_median   median round trip, microseconds
 *	    tls.socketmap_50_p99      99th percentile, microseconds
 *	    tls.socketmap_50_lookups  lookups per second, all clients
 *
 *	The target is a median within 5 ms. Wall time, not CPU time:
 *	the figure is what a waiting Postfix sees on a shared machine.
 * DIAGNOSTICS
 *	Exit status 1 when the server does not start or a reply is not the
 *	one the policy gives: the benchmark would measure the wrong work.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/netstring.h"
#include "milters/tls/socketmap.h"

#define CLIENTS 50
#define LINES 1000
#define MAX_SAMPLES 2000000

static ptls_policy_set *policy;
static char sock_path[108];
static double seconds = 1.0;
static long long *samples;	/* round trips, ns */
static size_t nsamples;
static pthread_mutex_t samples_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed;

static int acq(ptls_socketmap_view *v, void **h)
{
	*h = NULL;
	v->policy = policy;
	v->sts = NULL;
	v->sts_all_domains = 0;
	return 0;
}

static void rel(void *h)
{
	(void)h;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* client - one connection, requests back to back until the time is up */
static void *client(void *arg)
{
	long id = (long)arg;
	struct sockaddr_un sa;
	long long *mine = pn_malloc(sizeof(long long) * (MAX_SAMPLES / CLIENTS));
	size_t n = 0, have, plen, used;
	long long end = now_ns() + (long long)(seconds * 1e9), t0;
	char req[128], frame[160], buf[512];
	const char *p, *why;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), k, rc;
	unsigned i = (unsigned)id * 7919;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		failed = 1;
		return NULL;
	}
	while (now_ns() < end && n < MAX_SAMPLES / CLIENTS) {
		i++;
		switch (i % 3) {
		case 0: snprintf(req, sizeof(req), "postfix partner%u.example", i % 800); break;
		case 1: snprintf(req, sizeof(req), "postfix .group%u.example", i % 200); break;
		default: snprintf(req, sizeof(req), "postfix stranger%u.example", i); break;
		}
		k = snprintf(frame, sizeof(frame), "%zu:%s,", strlen(req), req);
		t0 = now_ns();
		if (write(fd, frame, (size_t)k) != k) {
			failed = 1;
			break;
		}
		have = 0;
		rc = 0;
		while (rc == 0) {
			ssize_t r = read(fd, buf + have, sizeof(buf) - have);
			if (r <= 0) {
				rc = -1;
				break;
			}
			have += (size_t)r;
			rc = pn_netstring_parse(buf, have, 400, &p, &plen, &used, &why);
		}
		mine[n++] = now_ns() - t0;
		if (rc != 1 || strncmp(p, i % 3 == 2 ? "NOTFOUND " : "OK encrypt", i % 3 == 2 ? 9 : 10)
				   != 0) {
			failed = 1;
			break;
		}
	}
	close(fd);
	pthread_mutex_lock(&samples_lock);
	memcpy(samples + nsamples, mine, n * sizeof(long long));
	nsamples += n;
	pthread_mutex_unlock(&samples_lock);
	pn_free(mine);
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	char dir[] = "/tmp/postern-bench-smap.XXXXXX", *err = NULL, *text;
	ptls_socketmap_source src = {acq, rel};
	ptls_socketmap_opts o;
	ptls_socketmap *m;
	pthread_t tids[CLIENTS];
	const char *env = getenv("POSTERN_BENCH_SECONDS");
	long long t0, t1;
	pn_buf b;
	long i;

	if (env && atof(env) > 0)
		seconds = atof(env);
	pn_log_set_level(PN_LOG_ERROR);
	pn_buf_init(&b, 0);
	for (i = 0; i < LINES; i++) {
		if (i < 800)
			pn_buf_printf(&b, "partner%ld.example outbound=encrypt min_version=TLSv1.2\n", i);
		else
			pn_buf_printf(&b, ".group%ld.example outbound=encrypt min_version=TLSv1.3\n",
				      i - 800);
	}
	text = pn_buf_steal(&b, NULL);
	if ((policy = ptls_policy_parse(text, strlen(text), "bench", &err)) == NULL) {
		fprintf(stderr, "micro_socketmap: %s\n", err);
		return 1;
	}
	pn_free(text);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/tls-policy.sock", dir);
	memset(&o, 0, sizeof(o));
	o.path = sock_path;
	o.mode = 0600;
	o.max_connections = 256;
	o.timeout_ms = 10000;
	o.idle_ms = 100000;
	if ((m = ptls_socketmap_start(&o, src, &err)) == NULL) {
		fprintf(stderr, "micro_socketmap: %s\n", err);
		return 1;
	}
	samples = pn_malloc(sizeof(long long) * MAX_SAMPLES);
	t0 = now_ns();
	for (i = 0; i < CLIENTS; i++)
		pthread_create(&tids[i], NULL, client, (void *)i);
	for (i = 0; i < CLIENTS; i++)
		pthread_join(tids[i], NULL);
	t1 = now_ns();
	ptls_socketmap_stop(m);
	rmdir(dir);
	if (failed || nsamples == 0) {
		fprintf(stderr, "micro_socketmap: a lookup failed or gave the wrong answer\n");
		return 1;
	}
	qsort(samples, nsamples, sizeof(long long), cmp_ll);
	printf("# %zu lookups by %d parallel clients in %.2f s\n", nsamples, CLIENTS,
	       (double)(t1 - t0) / 1e9);
	printf("bench tls.socketmap_50_median %.1f us\n", (double)samples[nsamples / 2] / 1e3);
	printf("bench tls.socketmap_50_p99 %.1f us\n",
	       (double)samples[(nsamples * 99) / 100] / 1e3);
	printf("bench tls.socketmap_50_lookups %.0f lookups/s\n",
	       (double)nsamples / ((double)(t1 - t0) / 1e9));
	pn_free(samples);
	ptls_policy_free(policy);
	return 0;
}
