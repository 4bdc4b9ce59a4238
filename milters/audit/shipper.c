/* SPDX-License-Identifier: BSD-2-Clause */
/* shipper - the daemon's thread that ships the trail (see shipper.h) */
#include "milters/audit/shipper.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "milters/audit/store.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

struct audit_shipper {
	audit_shipper *next;		/* registry */
	int refs;
	char *trail_path;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int woken, stop, running;
	char *conninfo;			/* guarded by lock; taken by the thread per pass */
	pthread_t thread;
	audit_ship *ship;		/* the thread's */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static audit_shipper *registry;

/* audit_shipper_get - the shipper of trail_path, with this connection string */
audit_shipper *audit_shipper_get(const char *trail_path, const char *head_path,
				 const char *conninfo)
{
	audit_shipper *s;

	pthread_mutex_lock(&registry_lock);
	for (s = registry; s; s = s->next)
		if (strcmp(s->trail_path, trail_path) == 0)
			break;
	if (s) {
		s->refs++;
		pthread_mutex_lock(&s->lock);
		pn_free(s->conninfo);
		s->conninfo = pn_strdup(conninfo);
		pthread_mutex_unlock(&s->lock);
	} else {
		s = pn_calloc(1, sizeof(*s));
		s->refs = 1;
		s->trail_path = pn_strdup(trail_path);
		s->conninfo = pn_strdup(conninfo);
		pthread_mutex_init(&s->lock, NULL);
		pthread_cond_init(&s->wake, NULL);
		s->ship = audit_ship_new(trail_path, head_path, conninfo, AUDIT_SHIP_BATCH);
		s->next = registry;
		registry = s;
	}
	pthread_mutex_unlock(&registry_lock);
	return s;
}

/* run - pass after pass until stopped */
static void *run(void *arg)
{
	audit_shipper *s = arg;
	int outage = 0;
	unsigned long long since = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		audit_ship_result res;
		char *err = NULL, *conninfo = pn_strdup(s->conninfo);
		int rc;

		s->woken = 0;
		pthread_mutex_unlock(&s->lock);
		audit_ship_set_conninfo(s->ship, conninfo);
		pn_free(conninfo);
		rc = audit_ship_pass(s->ship, &res, &err);
		if (rc < 0)
			pn_metric_inc(PN_M_AUDIT_SHIP_FAILURES, 0);
		if (rc < 0 && !outage) {
			pn_log(PN_LOG_ERROR, "audit store: cannot ship records: %s: they stay in the "
			       "trail and are shipped when the database is back", err);
			outage = 1;
			since = 0;
		} else if (rc == 0 && outage) {
			pn_log(PN_LOG_INFO, "audit store: caught up: %llu record%s shipped, trail %s "
			       "seq %llu", since + res.shipped, since + res.shipped == 1 ? "" : "s",
			       res.trail_id, res.last_seq);
			outage = 0;
		} else if (rc == 0 && res.shipped) {
			pn_log(PN_LOG_DEBUG, "audit store: %llu records shipped, trail %s seq %llu",
			       res.shipped, res.trail_id, res.last_seq);
		}
		if (outage)
			since += res.shipped;
		pn_free(err);
		pthread_mutex_lock(&s->lock);
		if (!s->woken && !s->stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&s->wake, &s->lock, &until);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* audit_shipper_wake - records were appended: ship them soon */
void audit_shipper_wake(audit_shipper *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->running && !s->stop) {
		if (pthread_create(&s->thread, NULL, run, s) == 0)
			s->running = 1;
		else
			pn_log(PN_LOG_ERROR, "audit store: cannot start the shipping thread: "
			       "records are not shipped until a restart (or postern-audit ship)");
		s->stop = !s->running;	/* do not try again for every record */
	}
	s->woken = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* audit_shipper_put - drop a reference; the last one stops the thread */
void audit_shipper_put(audit_shipper *s)
{
	audit_shipper **pp;
	int last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	last = --s->refs == 0;
	if (last)
		for (pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
	pthread_mutex_unlock(&registry_lock);
	if (!last)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->running)
		pthread_join(s->thread, NULL);
	audit_ship_free(s->ship);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	pn_free(s->conninfo);
	pn_free(s->trail_path);
	pn_free(s);
}
