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
 *	struct sort_store *sort_responses(sort_state *st);
 *	void sort_commit_marks(sort_state *st, const sv_result *r, time_t now);
 *	int sort_seen(void *arg, const unsigned char key[32], time_t now);
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
 *
 *	sort_responses() (sort_run.c) is the response store of
 *	response_store (sort_store.h), opened on first use, or NULL (none
 *	configured, or it cannot be opened: logged once). Vacation and
 *	duplicate share it. sort_commit_marks() records the duplicate IDs of
 *	a successful result (sv_result.marks) at now. sort_seen() is the
 *	sv_services.seen hook (arg: the state).
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
	char *flags_header;	/* imap4flags for the delivery agent; "": none */
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
	/* services for the extensions (sieve.h): the response store, opened
	 * on first use (after the daemon dropped its privileges; never by
	 * `check` or `test`), and the spamtest/virustest settings */
	char *store_path;		/* "": none */
	unsigned store_size;
	pthread_mutex_t store_lock;
	struct sort_store *store;
	int store_failed;		/* logged once; retried at the next load */
	struct sv_spamconf *spam;
	sv_services svc;		/* the daemon's: seen, spam */
	sv_services svc_test;		/* the test tool's: spam only */
	/* vacation and notify messages (sort_reply.c): the outbound spool,
	 * started on first use (never by `check` or `test`) */
	char *submit_method, *submit_dir;
	unsigned submit_max_queue;
	pthread_mutex_t submit_lock;
	struct sort_submit *submit;
	int submit_failed;		/* logged once */
};

holder *sort_script_acquire(sort_state *st, const char *path, int pinned, char **err);
void sort_script_release(sort_state *st, holder *h);
void sort_cache_free(sort_state *st);
struct sort_store *sort_responses(sort_state *st);
void sort_commit_marks(sort_state *st, const sv_result *r, time_t now);
int sort_seen(void *arg, const unsigned char key[32], time_t now);

#endif
