/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_cache - postern-sort's cache of compiled Sieve scripts
 *
 * One entry per script file: the last version that compiled (shared by
 * the runs that hold it, reference-counted) and the identity of a version
 * that failed, so a broken file is compiled and reported once. Each
 * acquire checks whether the file changed (common/filestamp.h, the one
 * "has this file changed" of libpostern) and recompiles it outside the
 * lock. The global script is pinned (never evicted, kept when the file
 * vanishes); the others are dropped all at once when the cache is full.
 * Used by sort_load.c (compile at load) and sort_run.c (before each run).
 */
#include "milters/sort/sort_int.h"
#include "common/alloc.h"
#include "common/filestamp.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

/* release_locked - drop a holder reference; the caller holds the lock */
static void release_locked(holder *h)
{
	if (h && --h->refs == 0) {
		sv_script_free(h->s);
		pn_free(h);
	}
}

/* sort_script_release - a run is done with a script */
void sort_script_release(sort_state *st, holder *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	release_locked(h);
	pthread_mutex_unlock(&st->lock);
}

/* find_entry - cache entry for path; the caller holds the lock */
static entry *find_entry(sort_state *st, const char *path)
{
	entry *e;

	for (e = st->cache; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

/* evict_locked - drop every unpinned entry when the cache is full */
static void evict_locked(sort_state *st)
{
	entry **pe = &st->cache;

	while (*pe) {
		entry *e = *pe;
		if (e->pinned) {
			pe = &e->next;
			continue;
		}
		*pe = e->next;
		release_locked(e->h);
		pn_free(e->path);
		pn_free(e);
		st->ncache--;
	}
}

/* sort_script_acquire - the current compiled version of a script file, or NULL */
holder *sort_script_acquire(sort_state *st, const char *path, int pinned, char **err)
{
	struct stat sb;
	pn_filestamp id;
	entry *e;
	holder *h = NULL;
	sv_script *s;
	char *why = NULL;

	if (err)
		*err = NULL;
	if (stat(path, &sb) < 0) {
		if (err && errno != ENOENT)
			*err = pn_asprintf("%s: cannot open: %s", path, strerror(errno));
		/* A vanished global script keeps its last version. */
		pthread_mutex_lock(&st->lock);
		e = find_entry(st, path);
		if (e && e->pinned && e->h) {
			h = e->h;
			h->refs++;
		}
		pthread_mutex_unlock(&st->lock);
		if (err && *err == NULL && pinned && h == NULL)
			*err = pn_asprintf("%s: cannot open: %s", path, strerror(ENOENT));
		return h;
	}
	pn_filestamp_set(&id, &sb);
	pthread_mutex_lock(&st->lock);
	e = find_entry(st, path);
	if (e && ((e->h && pn_filestamp_same(&e->id, &id))
		  || (e->have_bad && pn_filestamp_same(&e->bad, &id)))) {
		if ((h = e->h) != NULL)
			h->refs++;
		pthread_mutex_unlock(&st->lock);
		return h;
	}
	pthread_mutex_unlock(&st->lock);

	s = sv_compile_file(path, &st->lim, &why);

	pthread_mutex_lock(&st->lock);
	if ((e = find_entry(st, path)) == NULL) {
		if (!pinned && st->ncache >= st->cache_max)
			evict_locked(st);
		e = pn_calloc(1, sizeof(*e));
		e->path = pn_strdup(path);
		e->next = st->cache;
		st->cache = e;
		st->ncache++;
	}
	e->pinned |= pinned;
	if (s) {
		holder *nh = pn_calloc(1, sizeof(*nh));
		nh->s = s;
		nh->refs = 1;
		release_locked(e->h);
		e->h = nh;
		e->id = id;
		e->have_bad = 0;
	} else {
		e->bad = id;
		e->have_bad = 1;
	}
	if ((h = e->h) != NULL)
		h->refs++;
	pthread_mutex_unlock(&st->lock);
	if (why) {
		if (err)
			*err = why;
		else {
			pn_log(PN_LOG_ERROR, "%s%s", why,
			       h ? " (the previous version stays in use)" : " (script not used)");
			pn_free(why);
		}
	}
	return h;
}

/* sort_cache_free - drop every entry, at unload */
void sort_cache_free(sort_state *st)
{
	entry *e, *next;

	for (e = st->cache; e; e = next) {
		next = e->next;
		release_locked(e->h);
		pn_free(e->path);
		pn_free(e);
	}
	st->cache = NULL;
	st->ncache = 0;
}
