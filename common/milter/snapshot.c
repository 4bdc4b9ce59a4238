/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot - reference-counted configuration snapshots (see engine.h)
 *
 * One snapshot is "current". A connection takes a reference when it opens
 * and drops it when it closes; a reload builds a new snapshot completely
 * (parse, load engine state) before swapping it in, so a broken reload
 * leaves the running one untouched and a connection never sees a mix.
 */
#include "common/milter/engine.h"
#include "common/alloc.h"

#include <pthread.h>

static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static pn_snapshot *current;
static unsigned long generations;

/* pn_snapshot_new - load engine state for cfg; takes ownership of cfg */
pn_snapshot *pn_snapshot_new(const pn_engine *e, pn_config *cfg, char **err)
{
	pn_snapshot *s;
	void *state = NULL;

	*err = NULL;
	if (e->load && (state = e->load(cfg, err)) == NULL) {
		pn_config_free(cfg);
		if (*err == NULL)
			*err = pn_strdup("engine failed to load its configuration");
		return NULL;
	}
	s = pn_calloc(1, sizeof(*s));
	s->refs = 1;
	s->config = cfg;
	s->state = state;
	s->engine = e;
	return s;
}

/* destroy - free a snapshot nobody uses any more */
static void destroy(pn_snapshot *s)
{
	if (s->engine->unload && s->state)
		s->engine->unload(s->state);
	pn_config_free(s->config);
	pn_free(s);
}

/* pn_snapshot_install - make s current; the caller's reference moves in */
void pn_snapshot_install(pn_snapshot *s)
{
	pn_snapshot *old;

	pthread_mutex_lock(&snapshot_lock);
	old = current;
	current = s;
	s->generation = ++generations;
	pthread_mutex_unlock(&snapshot_lock);
	if (old)
		pn_snapshot_release(old);
}

/* pn_snapshot_acquire - reference to the current snapshot (NULL before install) */
pn_snapshot *pn_snapshot_acquire(void)
{
	pn_snapshot *s;

	pthread_mutex_lock(&snapshot_lock);
	s = current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&snapshot_lock);
	return s;
}

/* pn_snapshot_release - drop a reference; the last one frees */
void pn_snapshot_release(pn_snapshot *s)
{
	int last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&snapshot_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&snapshot_lock);
	if (last)
		destroy(s);
}

/* pn_snapshot_config - the parsed configuration */
const pn_config *pn_snapshot_config(const pn_snapshot *s)
{
	return s->config;
}

/* pn_snapshot_state - the engine's loaded state */
void *pn_snapshot_state(const pn_snapshot *s)
{
	return s->state;
}

/* pn_snapshot_shutdown - drop the current snapshot at exit */
void pn_snapshot_shutdown(void)
{
	pn_snapshot *old;

	pthread_mutex_lock(&snapshot_lock);
	old = current;
	current = NULL;
	pthread_mutex_unlock(&snapshot_lock);
	pn_snapshot_release(old);
}
