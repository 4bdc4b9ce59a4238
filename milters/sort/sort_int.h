/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sort_int - what postern-sort's engine modules share, not its users
 * SYNOPSIS
 *	#include "milters/sort/sort_int.h"
 *
 *	holder *sort_script_acquire(sort_state *st, const char *path,
 *	                            int pinned, char **err);
 *	void sort_script_release(sort_state *st, holder *h);
 *	void sort_cache_free(sort_state *st);
 * DESCRIPTION
 *	The engine (sort_engine.h) is four modules: sort_cache.c (compiled
 *	scripts), sort_load.c (configuration), sort_run.c (runs per
 *	recipient) and sort_apply.c (results into modifications). This
 *	header holds the state they share and the cache's interface.
 *
 *	sort_script_acquire() returns the current compiled version of the
 *	script file path, recompiling it when the file changed, or NULL (no
 *	such file, or it never compiled). With err NULL a compile error is
 *	logged once per file version; otherwise it is returned in *err.
 *	pinned marks the global script: never evicted, and kept when its
 *	file vanishes. Every holder acquired is given back with
 *	sort_script_release(). sort_cache_free() drops every entry.
 */
#ifndef SORT_INT_H
#define SORT_INT_H

#include <pthread.h>
#include <sys/stat.h>

#include "common/filestamp.h"
#include "common/geoip.h"
#include "milters/sort/sieve_int.h"
#include "milters/sort/sort_engine.h"

/* files a template may match at load time */
#define MAX_TEMPLATE_FILES 100000

/* a compiled script shared by the runs that use it */
typedef struct holder {
	sv_script *s;
	int refs;
} holder;

typedef struct entry {
	char *path;
	holder *h;		/* last good version, or NULL */
	pn_filestamp id;	/* of the file h was compiled from */
	pn_filestamp bad;	/* of a version that failed to compile */
	int have_bad;
	int pinned;		/* the global script: never evicted */
	struct entry *next;
} entry;

struct sort_state {
	sv_limits lim;
	char *global, *domain_tmpl, *user_tmpl;
	int by_header;
	char *delim;
	char *folder_header, *trace_header;
	char *original_header;	/* "": none (see sort_apply.c) */
	int max_hops;
	pn_geoip *geo;
	char *host;
	char *incl_personal;	/* include :personal directory template ("": none) */
	char *incl_global;	/* include :global directory ("": none) */
	time_t now;		/* the clock scripts see; 0: time(NULL) (the test tool sets it) */
	unsigned cache_max;
	int needs_body;		/* a script compiled at load tests body or size */
	pthread_mutex_t lock;
	entry *cache;
	unsigned ncache;
};

holder *sort_script_acquire(sort_state *st, const char *path, int pinned, char **err);
void sort_script_release(sort_state *st, holder *h);
void sort_cache_free(sort_state *st);

#endif
