/* SPDX-License-Identifier: BSD-2-Clause */
/* indexer - the journal applied to the index by a thread of its own (see indexer.h) */
#include "milters/archive/indexer.h"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/deadline.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define PARKED_MAX_AGE 300	/* seconds a parked text waits for its delivery */

typedef struct pending_object {
	arc_object obj;
	struct pending_object *next;
} pending_object;

typedef struct unsettled {
	char id[ARC_ID_LEN + 1];
	char *file;		/* its day file */
	time_t since;
	const arc_indexer *owner;
	struct unsettled *next;
} unsettled;

/* Deliveries awaiting their outcome, for the whole process: after a reload
 * two archive handles (the old snapshot's and the new one's) index the same
 * journal, and neither may index what the other's connections have not
 * settled yet. Lock order: an indexer's lock, then this one. */
static pthread_mutex_t waiting_lock = PTHREAD_MUTEX_INITIALIZER;
static unsettled *waiting;

typedef struct parked_text {
	char id[ARC_ID_LEN + 1];
	char *text;
	time_t since;
	struct parked_text *next;
} parked_text;

struct arc_indexer {
	arc_index *x;
	arc_journal *j;
	arc_text_fn text;
	void *text_ctx;
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t wake;
	pthread_mutex_t run_lock;	/* one pass at a time */
	pthread_t thread;
	int running, stop, failing;
	int all_pending;	/* the next pass looks at every day file */
	int cannot_start;	/* pthread_create failed once: told, not again */
	char **dirty;		/* day files written since the last pass */
	size_t ndirty, dirty_cap;
	pending_object *objects;
	parked_text *parked;
	size_t parked_bytes;
};

/* arc_indexer_new - an indexer with no thread yet */
arc_indexer *arc_indexer_new(arc_index *x, arc_journal *j, arc_text_fn text, void *ctx)
{
	arc_indexer *ix = pn_calloc(1, sizeof(*ix));
	pthread_condattr_t ca;

	ix->x = x;
	ix->j = j;
	ix->text = text;
	ix->text_ctx = ctx;
	pthread_mutex_init(&ix->lock, NULL);
	pthread_mutex_init(&ix->run_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ix->wake, &ca);
	pthread_condattr_destroy(&ca);
	return ix;
}

/* mark_dirty - a day file to look at in the next pass (lock held) */
static void mark_dirty(arc_indexer *ix, const char *file)
{
	size_t i;

	for (i = 0; i < ix->ndirty; i++)
		if (strcmp(ix->dirty[i], file) == 0)
			return;
	if (ix->ndirty == ix->dirty_cap) {
		ix->dirty_cap = ix->dirty_cap ? 2 * ix->dirty_cap : 4;
		ix->dirty = pn_realloc(ix->dirty, ix->dirty_cap * sizeof(char *));
	}
	ix->dirty[ix->ndirty++] = pn_strdup(file);
}

/* take_text - the parked text of a delivery, or its object's */
static char *take_text(void *ctx, const arc_delivery *d)
{
	arc_indexer *ix = ctx;
	parked_text **p, *t;
	char *text = NULL;
	int found = 0;

	pthread_mutex_lock(&ix->lock);
	for (p = &ix->parked; *p; p = &(*p)->next) {
		if (strcmp((*p)->id, d->id) == 0) {
			t = *p;
			*p = t->next;
			text = t->text;
			ix->parked_bytes -= strlen(text);
			pn_free(t);
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&ix->lock);
	if (!found && ix->text)
		text = ix->text(ix->text_ctx, d);
	return text;
}

/* hold_unsettled - leave a delivery whose outcome is not known yet */
static int hold_unsettled(void *ctx, const arc_record *r)
{
	unsettled *u;
	int held = 0;

	(void)ctx;
	if (r->type != ARC_REC_DELIVERY)
		return 0;
	pthread_mutex_lock(&waiting_lock);
	for (u = waiting; u && !held; u = u->next)
		held = strcmp(u->id, r->delivery->id) == 0;
	pthread_mutex_unlock(&waiting_lock);
	return held;
}

/* forget_indexed - drop the pending objects the index has now */
static void forget_indexed(arc_indexer *ix)
{
	char (*shas)[65] = NULL;
	size_t n = 0, i;
	pending_object *o, **p;

	pthread_mutex_lock(&ix->lock);
	for (o = ix->objects; o; o = o->next)
		n++;
	if (n)
		shas = pn_malloc(n * sizeof(*shas));
	for (i = 0, o = ix->objects; o; o = o->next)
		memcpy(shas[i++], o->obj.sha256, 65);
	pthread_mutex_unlock(&ix->lock);
	for (i = 0; i < n; i++) {
		arc_object row;
		if (arc_index_object(ix->x, shas[i], &row) != 0)
			continue;
		pthread_mutex_lock(&ix->lock);
		for (p = &ix->objects; *p; p = &(*p)->next) {
			if (strcmp((*p)->obj.sha256, shas[i]) == 0) {
				o = *p;
				*p = o->next;
				pn_free(o);
				break;
			}
		}
		pthread_mutex_unlock(&ix->lock);
	}
	pn_free(shas);
}

/* arc_indexer_run - one pass: the day files written since the last one */
int arc_indexer_run(arc_indexer *ix, int all, size_t *applied, char **err)
{
	arc_catch_up how;
	char **files;
	size_t n, i;
	int rc = 0;

	*err = NULL;
	if (applied)
		*applied = 0;
	pthread_mutex_lock(&ix->run_lock);
	pthread_mutex_lock(&ix->lock);
	if (ix->all_pending)
		all = 2;	/* taken from the flag: given back on failure */
	ix->all_pending = 0;
	files = ix->dirty;
	n = ix->ndirty;
	ix->dirty = NULL;
	ix->ndirty = ix->dirty_cap = 0;
	pthread_mutex_unlock(&ix->lock);
	if (all || n > 0) {
		memset(&how, 0, sizeof(how));
		how.text = take_text;
		how.text_ctx = ix;
		how.hold = hold_unsettled;
		how.hold_ctx = ix;
		how.files = all ? NULL : files;
		how.nfiles = all ? 0 : n;
		rc = arc_index_catch_up_with(ix->x, ix->j, &how, applied, err);
	}
	pthread_mutex_lock(&ix->lock);
	if (rc < 0 && all == 2)
		ix->all_pending = 1;
	for (i = 0; i < n; i++) {
		if (rc < 0)
			mark_dirty(ix, files[i]);	/* the next pass tries again */
		pn_free(files[i]);
	}
	pthread_mutex_unlock(&ix->lock);
	pn_free(files);
	if (rc == 0)
		forget_indexed(ix);
	pthread_mutex_unlock(&ix->run_lock);
	return rc;
}

/* stop_waiting - deliveries of owner (NULL: any) waiting since before or
 * earlier are no longer held back: their day files are indexed again */
static void stop_waiting(arc_indexer *ix, const arc_indexer *owner, time_t before)
{
	unsettled **u = &waiting, *gone;

	pthread_mutex_lock(&waiting_lock);
	while (*u) {
		if ((owner && (*u)->owner != owner) || (*u)->since > before) {
			u = &(*u)->next;
			continue;
		}
		gone = *u;
		*u = gone->next;
		mark_dirty(ix, gone->file);
		pn_free(gone->file);
		pn_free(gone);
	}
	pthread_mutex_unlock(&waiting_lock);
}

/* expire - deliveries that waited too long for their outcome; stale texts
 * (lock held) */
static void expire(arc_indexer *ix, time_t now)
{
	parked_text **p = &ix->parked, *t;

	/* never told (a lost outcome): the journal says delivered */
	stop_waiting(ix, NULL, now - ARC_INDEXER_SETTLE_MAX);
	while (*p) {
		if (now - (*p)->since < PARKED_MAX_AGE) {
			p = &(*p)->next;
			continue;
		}
		t = *p;
		*p = t->next;
		ix->parked_bytes -= strlen(t->text);
		pn_free(t->text);
		pn_free(t);
	}
}

/* wait_ms - sleep on the condition up to ms, or until told to stop (lock held) */
static void wait_ms(arc_indexer *ix, long ms, int until_stop)
{
	struct timespec until = pn_deadline_after_ms(CLOCK_MONOTONIC, ms);

	do {
		if (pthread_cond_timedwait(&ix->wake, &ix->lock, &until) == ETIMEDOUT)
			return;
	} while (until_stop && !ix->stop);
}

/* indexer_main - the thread: wait for work, gather a moment, apply */
static void *indexer_main(void *arg)
{
	arc_indexer *ix = arg;
	char *err = NULL;

	pthread_mutex_lock(&ix->lock);
	while (!ix->stop) {
		expire(ix, time(NULL));
		if (ix->ndirty == 0 && !ix->all_pending) {
			wait_ms(ix, 1000, 0);
			continue;
		}
		/* the deliveries of the next moment go in the same transaction */
		wait_ms(ix, ARC_INDEXER_GATHER_MS, 1);
		pthread_mutex_unlock(&ix->lock);
		if (arc_indexer_run(ix, 0, NULL, &err) < 0) {
			pthread_mutex_lock(&ix->lock);
			if (!ix->failing)
				pn_warn("archive index: cannot apply the journal (trying again): %s",
					err ? err : "unknown error");
			ix->failing = 1;
			pn_free(err);
			err = NULL;
			if (!ix->stop)
				wait_ms(ix, ARC_INDEXER_RETRY_MS, 1);
			continue;
		}
		pthread_mutex_lock(&ix->lock);
		if (ix->failing)
			pn_info("archive index: up to date with the journal again");
		ix->failing = 0;
	}
	pthread_mutex_unlock(&ix->lock);
	/* a clean stop leaves the index current */
	if (arc_indexer_run(ix, 0, NULL, &err) < 0) {
		pn_warn("archive index: left behind the journal at stop (caught up at next "
			"start): %s", err ? err : "unknown error");
		pn_free(err);
	}
	pn_crypto_thread_end();
	return NULL;
}

/* arc_indexer_start - the thread, once */
int arc_indexer_start(arc_indexer *ix, char **err)
{
	int rc = 0, e;

	*err = NULL;
	pthread_mutex_lock(&ix->lock);
	if (ix->cannot_start) {
		rc = -1;
	} else if (!ix->running && !ix->stop) {
		if ((e = pthread_create(&ix->thread, NULL, indexer_main, ix)) != 0) {
			*err = pn_asprintf("cannot start the indexer thread: %s", strerror(e));
			ix->cannot_start = 1;
			rc = -1;
		} else {
			ix->running = 1;
		}
	}
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

/* arc_indexer_journaled - records that the next pass must apply */
void arc_indexer_journaled(arc_indexer *ix, long long when, const arc_object *obj,
			   const char *id, int awaiting, const char *text, int text_needed)
{
	size_t len = text ? strlen(text) : 0;

	char *file = arc_journal_file_for(when);
	pending_object *o;

	pthread_mutex_lock(&ix->lock);
	mark_dirty(ix, file);
	if (obj) {
		for (o = ix->objects; o; o = o->next)
			if (strcmp(o->obj.sha256, obj->sha256) == 0)
				break;
		if (o == NULL) {
			o = pn_calloc(1, sizeof(*o));
			o->next = ix->objects;
			ix->objects = o;
		}
		o->obj = *obj;
	}
	if (id && awaiting) {
		unsettled *u = pn_calloc(1, sizeof(*u));
		snprintf(u->id, sizeof(u->id), "%s", id);
		u->file = pn_strdup(file);
		u->since = time(NULL);
		u->owner = ix;
		pthread_mutex_lock(&waiting_lock);
		u->next = waiting;
		waiting = u;
		pthread_mutex_unlock(&waiting_lock);
	}
	/* "" is a text too: it spares reading back an object that has none */
	if (id && text && (text_needed || ix->parked_bytes + len <= ARC_INDEXER_PARK_MAX)) {
		parked_text *t = pn_calloc(1, sizeof(*t));
		snprintf(t->id, sizeof(t->id), "%s", id);
		t->text = pn_strdup(text);
		t->since = time(NULL);
		t->next = ix->parked;
		ix->parked = t;
		ix->parked_bytes += len;
	}
	pthread_cond_signal(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
	pn_free(file);
}

/* arc_indexer_settle - the MTA's answer is recorded: the delivery may go in */
void arc_indexer_settle(arc_indexer *ix, const char *id, int voided)
{
	unsettled **u, *gone;
	parked_text **p, *t;

	pthread_mutex_lock(&ix->lock);
	for (p = &ix->parked; voided && *p; p = &(*p)->next) {
		if (strcmp((*p)->id, id) == 0) {
			/* never indexed: its text is not needed */
			t = *p;
			*p = t->next;
			ix->parked_bytes -= strlen(t->text);
			pn_free(t->text);
			pn_free(t);
			break;
		}
	}
	pthread_mutex_lock(&waiting_lock);
	for (u = &waiting; *u; u = &(*u)->next) {
		if (strcmp((*u)->id, id) == 0) {
			gone = *u;
			*u = gone->next;
			mark_dirty(ix, gone->file);
			pn_free(gone->file);
			pn_free(gone);
			break;
		}
	}
	pthread_mutex_unlock(&waiting_lock);
	pthread_cond_signal(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
}

/* arc_indexer_catch_up_later - the next pass (the thread's) takes every day file */
void arc_indexer_catch_up_later(arc_indexer *ix)
{
	pthread_mutex_lock(&ix->lock);
	ix->all_pending = 1;
	pthread_cond_signal(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
}

/* arc_indexer_known - an object journaled here that the index may lack */
int arc_indexer_known(arc_indexer *ix, const char *sha, arc_object *obj)
{
	pending_object *o;
	int rc = 1;

	pthread_mutex_lock(&ix->lock);
	for (o = ix->objects; o; o = o->next) {
		if (strcmp(o->obj.sha256, sha) == 0) {
			*obj = o->obj;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

/* arc_indexer_free - stop the thread after a last pass, free everything */
void arc_indexer_free(arc_indexer *ix)
{
	size_t i;
	int running;

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	ix->stop = 1;
	running = ix->running;
	/* deliveries never told are delivered as far as the journal knows */
	stop_waiting(ix, ix, (time_t)LLONG_MAX);
	pthread_cond_broadcast(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
	if (running)
		pthread_join(ix->thread, NULL);
	for (i = 0; i < ix->ndirty; i++)
		pn_free(ix->dirty[i]);
	pn_free(ix->dirty);
	while (ix->objects) {
		pending_object *o = ix->objects;
		ix->objects = o->next;
		pn_free(o);
	}
	while (ix->parked) {
		parked_text *t = ix->parked;
		ix->parked = t->next;
		pn_free(t->text);
		pn_free(t);
	}
	pthread_cond_destroy(&ix->wake);
	pthread_mutex_destroy(&ix->run_lock);
	pthread_mutex_destroy(&ix->lock);
	pn_free(ix);
}
