/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot - reference-counted configuration snapshots (see engine.h)
 *
 * One snapshot is "current". A connection takes a reference when it opens
 * and drops it when it closes; a reload builds a new snapshot completely
 * (parse, load engine state) before swapping it in, so a broken reload
 * leaves the running one untouched and a connection never sees a mix.
 *
 * A snapshot also lists the files its engine state was read from, so the
 * milter layer can tell, at connection start, that it is out of date
 * (engine.h); the list is written only while the snapshot is built, and
 * the rate limit and the failed versions change under snapshot_lock.
 */
#include "common/milter/engine.h"
#include "common/alloc.h"

#include <pthread.h>
#include <time.h>

/* A file a snapshot was built from: the version read, and the version a
 * reload last failed on (then not a change to act on again). */
typedef struct watched_file {
	char *path;
	pn_filestamp read;
	pn_filestamp failed;
} watched_file;

/* What pn_snapshot_new() allocates: the snapshot other modules see (first
 * member, so a pn_snapshot * of one points here) and the watch list,
 * which only this module touches. */
typedef struct watching_snapshot {
	pn_snapshot pub;
	watched_file *files;
	size_t nfiles;
	long interval;		/* seconds between looks; 0: every connection */
	long long next_look;	/* CLOCK_MONOTONIC seconds of the next look */
} watching_snapshot;

/* watching - the watch list of a snapshot pn_snapshot_new() made */
static watching_snapshot *watching(pn_snapshot *s)
{
	return (watching_snapshot *)s;
}

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
	s = &((watching_snapshot *)pn_calloc(1, sizeof(watching_snapshot)))->pub;
	s->refs = 1;
	s->config = cfg;
	s->state = state;
	s->engine = e;
	if (e->watch_files && state)
		e->watch_files(state, s);
	return s;
}

/* destroy - free a snapshot nobody uses any more */
static void destroy(pn_snapshot *s)
{
	size_t i;

	if (s->engine->unload && s->state)
		s->engine->unload(s->state);
	for (i = 0; i < watching(s)->nfiles; i++)
		pn_free(watching(s)->files[i].path);
	pn_free(watching(s)->files);
	pn_config_free(s->config);
	pn_free(watching(s));
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

/* pn_snapshot_watch - while s is built: state was read from this version of path */
void pn_snapshot_watch(pn_snapshot *s, const char *path, const pn_filestamp *stamp)
{
	watching_snapshot *w = watching(s);
	watched_file *f;

	w->files = pn_realloc(w->files, (w->nfiles + 1) * sizeof(*w->files));
	f = &w->files[w->nfiles++];
	f->path = pn_strdup(path);
	f->read = *stamp;
	f->failed = *stamp;
}

/* pn_snapshot_watch_like - while s is built: it also watches what from
 * watches (an engine list's members), as often as the most eager */
void pn_snapshot_watch_like(pn_snapshot *s, pn_snapshot *from)
{
	watching_snapshot *w = watching(s), *f = watching(from);
	size_t i;

	for (i = 0; i < f->nfiles; i++) {
		pn_snapshot_watch(s, f->files[i].path, &f->files[i].read);
		w->files[w->nfiles - 1].failed = f->files[i].failed;
	}
	if (f->nfiles && (w->nfiles == f->nfiles || f->interval < w->interval))
		w->interval = f->interval;
}

/* pn_snapshot_watch_interval - while s is built: look at most once per seconds */
void pn_snapshot_watch_interval(pn_snapshot *s, long seconds)
{
	watching(s)->interval = seconds > 0 ? seconds : 0;
}

/* pn_snapshot_look_due - s watches files and it is time to look at them */
int pn_snapshot_look_due(pn_snapshot *s)
{
	watching_snapshot *w = watching(s);
	struct timespec now;
	int due;

	if (w->nfiles == 0)
		return 0;
	if (w->interval == 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&snapshot_lock);
	due = (long long)now.tv_sec >= w->next_look;
	if (due)
		w->next_look = (long long)now.tv_sec + w->interval;
	pthread_mutex_unlock(&snapshot_lock);
	return due;
}

/* pn_snapshot_changed - a watched file that is neither the version read
 * nor one a reload failed on; NULL when there is none */
const char *pn_snapshot_changed(pn_snapshot *s)
{
	watching_snapshot *w = watching(s);
	const char *changed = NULL;
	size_t i;

	for (i = 0; i < w->nfiles && changed == NULL; i++) {
		watched_file *f = &w->files[i];
		pn_filestamp now = pn_filestamp_path(f->path);

		pthread_mutex_lock(&snapshot_lock);
		if (!pn_filestamp_same(&now, &f->read) && !pn_filestamp_same(&now, &f->failed))
			changed = f->path;
		pthread_mutex_unlock(&snapshot_lock);
	}
	return changed;
}

/* pn_snapshot_reload_failed - the files as they are now could not be
 * loaded: s stays current and these versions are no change to act on */
void pn_snapshot_reload_failed(pn_snapshot *s)
{
	watching_snapshot *w = watching(s);
	size_t i;

	for (i = 0; i < w->nfiles; i++) {
		pn_filestamp now = pn_filestamp_path(w->files[i].path);

		pthread_mutex_lock(&snapshot_lock);
		w->files[i].failed = now;
		pthread_mutex_unlock(&snapshot_lock);
	}
}
