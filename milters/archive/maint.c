/* SPDX-License-Identifier: BSD-2-Clause */
/* maint - verify, reindex, prune, legal hold (see maint.h) */
#include "milters/archive/maint.h"
#include "common/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOLD_CHUNK 500		/* ids per hold/release record */
#define DELETE_CHUNK 1000	/* deliveries per index transaction in prune */

/* A sortable vector of (key, value, time). */
typedef struct entry {
	char *key;
	char *val;
	long long t;
	int flag;
	unsigned long long bytes;
} entry;

typedef struct vec {
	entry *v;
	size_t n, cap;
} vec;

/* vec_add - append an entry (copies key and val) */
static entry *vec_add(vec *x, const char *key, const char *val, long long t)
{
	entry *e;

	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 256;
		x->v = pn_realloc(x->v, x->cap * sizeof(entry));
	}
	e = &x->v[x->n++];
	e->key = pn_strdup(key);
	e->val = val ? pn_strdup(val) : NULL;
	e->t = t;
	e->flag = 0;
	e->bytes = 0;
	return e;
}

/* cmp_entry - by key, then by time */
static int cmp_entry(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->t > y->t) - (x->t < y->t);
}

/* vec_sort - sort by key (then time) */
static void vec_sort(vec *x)
{
	if (x->n > 1)
		qsort(x->v, x->n, sizeof(entry), cmp_entry);
}

/* vec_find - the last entry with key (the latest, once sorted), or NULL */
static entry *vec_find(const vec *x, const char *key)
{
	size_t lo = 0, hi = x->n;
	entry *hit = NULL;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->v[mid].key, key);
		if (c <= 0) {
			if (c == 0)
				hit = &x->v[mid];
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return hit;
}

/* vec_lower - index of the first entry with key or after it (sorted vector) */
static size_t vec_lower(const vec *x, const char *key)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(x->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* vec_count - how many entries have key (sorted vector) */
static size_t vec_count(const vec *x, const char *key)
{
	size_t n = 0, i;

	for (i = vec_lower(x, key); i < x->n && strcmp(x->v[i].key, key) == 0; i++)
		n++;
	return n;
}

/* vec_free - release every entry */
static void vec_free(vec *x)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		pn_free(x->v[i].key);
		pn_free(x->v[i].val);
	}
	pn_free(x->v);
	memset(x, 0, sizeof(*x));
}

/* maintenance_lock_error - why arc_archive_maintenance_lock() failed */
static char *maintenance_lock_error(const arc_archive *a)
{
	/* with several hosts, the database's lock (its reason was logged) */
	if (errno == ENOLCK)
		return pn_asprintf("cannot take the maintenance lock of the PostgreSQL index of %s",
				   a->dir);
	return pn_asprintf("another maintenance command runs: %s", strerror(errno));
}

/* ---- verify ------------------------------------------------------ */

typedef struct journal_view {
	vec deliveries;		/* id -> sha, time */
	vec voids;		/* id */
	vec objects;		/* sha -> stored_sha256, time */
	const char *file;
} journal_view;

/* view_record - collect one journal record */
static int view_record(void *ctx, const arc_record *r, const char *line, size_t len)
{
	journal_view *j = ctx;

	(void)line; (void)len;
	if (r == NULL)
		return 0;
	switch (r->type) {
	case ARC_REC_DELIVERY:
		vec_add(&j->deliveries, r->delivery->id, r->delivery->sha256, r->delivery->time);
		break;
	case ARC_REC_VOID:
		vec_add(&j->voids, r->id, NULL, r->time);
		break;
	case ARC_REC_OBJECT: {
		entry *e = vec_add(&j->objects, r->object.sha256, r->object.stored_sha256,
				   r->object.time);
		e->flag = r->object.encrypted;
		break;
	}
	default:
		break;
	}
	return 0;
}

/* index_row - collect one indexed delivery */
static int index_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	(void)row;
	vec_add(ctx, d->id, d->sha256, d->time);
	return 0;
}

/* disk_object - collect one object file */
static int disk_object(void *ctx, const arc_object *o)
{
	entry *e = vec_add(ctx, o->sha256, NULL, o->time);

	e->flag = o->encrypted;
	return 0;
}

typedef struct read_ctx {
	journal_view *jv;
	FILE *out;
	arc_verify_report *rep;
} read_ctx;

/* read_one_journal - one host's day files into the view */
static int read_one_journal(void *ctx, arc_journal *j, char **err)
{
	read_ctx *c = ctx;
	const char *host = arc_journal_host(j);
	char **names;
	size_t n, i;

	if (arc_journal_files(j, &names, &n) < 0) {
		*err = pn_asprintf("cannot list the journal %s: %s", arc_journal_dir(j),
				   strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		arc_journal_pos end;
		c->jv->file = names[i];
		if (arc_journal_read(j, names[i], 0, view_record, c->jv, &end) < 0) {
			*err = pn_asprintf("cannot read journal file %s/%s: %s", arc_journal_dir(j),
					   names[i], strerror(errno));
			arc_journal_files_free(names, n);
			return -1;
		}
		if (end.bad) {
			fprintf(c->out, "damaged journal %s%s%s: %zu line%s that are not records\n",
				host, *host ? "/" : "", names[i], end.bad, end.bad == 1 ? "" : "s");
			c->rep->damaged_lines += end.bad;
		}
	}
	c->rep->journal_files += n;
	arc_journal_files_free(names, n);
	return 0;
}

/* read_journal - every host's day files into a view; counts damaged lines */
static int read_journal(arc_archive *a, journal_view *jv, FILE *out, arc_verify_report *rep,
			char **err)
{
	read_ctx c = {jv, out, rep};

	rep->journal_files = 0;
	if (arc_archive_each_journal(a, read_one_journal, &c, err) < 0)
		return -1;
	vec_sort(&jv->voids);
	vec_sort(&jv->objects);
	return 0;
}

/* live_deliveries - journaled deliveries that were not voided, sorted by id */
static void live_deliveries(journal_view *jv, vec *live)
{
	size_t i;

	for (i = 0; i < jv->deliveries.n; i++) {
		entry *e = &jv->deliveries.v[i];
		if (vec_find(&jv->voids, e->key) == NULL)
			vec_add(live, e->key, e->val, e->t);
	}
	vec_sort(live);
}

/* compare_index - journal against index, both ways; absences are only suspects yet */
static void compare_index(const vec *live, const vec *idx, vec *suspects, FILE *out,
			  arc_verify_report *rep)
{
	size_t i;

	for (i = 0; i < live->n; i++) {
		const entry *e = &live->v[i];
		const entry *x = vec_find(idx, e->key);
		if (x == NULL) {
			vec_add(suspects, e->key, NULL, e->t);
		} else if (strcmp(x->val, e->val) != 0) {
			fprintf(out, "index differs %s: object %s in the index, %s in the journal\n",
				e->key, x->val, e->val);
			rep->index_differs++;
		}
	}
	for (i = 0; i < idx->n; i++) {
		if (vec_find(live, idx->v[i].key) == NULL) {
			fprintf(out, "not in journal %s\n", idx->v[i].key);
			rep->not_in_journal++;
		}
	}
}

/* stored_mismatch - a journal record of the object (any host's: each
 * journals the object it saw) whose stored bytes are not got's; NULL
 * when got is NULL or every record agrees */
static const entry *stored_mismatch(const journal_view *jv, const char *sha,
				    const arc_object *got)
{
	size_t i;

	for (i = vec_lower(&jv->objects, sha); got && i < jv->objects.n
	     && strcmp(jv->objects.v[i].key, sha) == 0; i++) {
		const entry *rec = &jv->objects.v[i];
		if (rec->flag == got->encrypted && strcmp(rec->val, got->stored_sha256) != 0)
			return rec;
	}
	return NULL;
}

/* check_objects - rehash every object file; unreferenced ones are suspects */
static void check_objects(arc_archive *a, const vec *disk, const vec *refs,
			  const journal_view *jv, vec *suspects, FILE *out,
			  arc_verify_report *rep)
{
	size_t i;

	for (i = 0; i < disk->n; i++) {
		const entry *o = &disk->v[i];
		const entry *rec = stored_mismatch(jv, o->key, NULL);
		arc_object got;
		char *why = NULL;
		int rc = arc_store_check(a->store, o->key, a->key, &got, &why);

		if (rc == 0)
			rec = stored_mismatch(jv, o->key, &got);
		if (rc < 0) {
			fprintf(out, "missing %s: %s\n", o->key, why ? why : "cannot read");
			rep->missing++;
		} else if (rc > 0) {
			fprintf(out, "corrupt %s: %s\n", o->key, why ? why : "does not decode");
			rep->corrupt++;
		} else if (rec) {
			fprintf(out, "corrupt %s: stored bytes hash to %s, the journal recorded %s\n",
				o->key, got.stored_sha256, rec->val);
			rep->corrupt++;
		} else if (got.encrypted && a->key == NULL) {
			rep->content_unchecked++;
		}
		pn_free(why);
		if (vec_find(refs, o->key) == NULL)
			vec_add(suspects, o->key, NULL, o->t);
	}
}

typedef struct seen_ctx {
	int found;
} seen_ctx;

/* seen_row - arc_row_fn that notes a hit */
static int seen_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	(void)d; (void)row;
	((seen_ctx *)ctx)->found = 1;
	return -1;
}

/* confirm - with no write in flight, which suspects are real problems */
static int confirm(arc_archive *a, const vec *not_indexed, const vec *orphans, FILE *out,
		   arc_verify_report *rep, char **err)
{
	int lock;
	size_t i;

	if (not_indexed->n == 0 && orphans->n == 0)
		return 0;
	/* writers hold the shared lock from object to index: the exclusive one
	 * waits for them, so every delivery they started is complete now */
	if ((lock = arc_lock(a->lock_path, 1, a->busy_ms, &a->owner)) < 0) {
		*err = pn_asprintf("cannot lock %s to check deliveries in flight: %s", a->lock_path,
				   strerror(errno));
		return -1;
	}
	/* ...and journaled: the daemon's indexer may not have applied them yet */
	if (arc_archive_catch_up_all(a, arc_archive_text, a, NULL, err) < 0) {
		arc_unlock(lock);
		return -1;
	}
	for (i = 0; i < not_indexed->n; i++) {
		arc_query q;
		seen_ctx s = {0};
		char *why = NULL;
		arc_query_init(&q);
		arc_query_add_key(&q, not_indexed->v[i].key);
		if (arc_index_search(a->index, &q, seen_row, &s, &why) == 0 && !s.found) {
			fprintf(out, "not in index %s\n", not_indexed->v[i].key);
			rep->not_in_index++;
		}
		pn_free(why);
		arc_query_clear(&q);
	}
	for (i = 0; i < orphans->n; i++) {
		if (arc_index_uses(a->index, orphans->v[i].key) == 0) {
			fprintf(out, "orphaned %s: no delivery uses it\n", orphans->v[i].key);
			rep->orphaned++;
		}
	}
	arc_unlock(lock);
	return 0;
}

/* check_missing - every delivery's object must exist */
static void check_missing(const vec *live, const vec *disk, FILE *out, arc_verify_report *rep)
{
	size_t i;

	for (i = 0; i < live->n; i++) {
		if (vec_find(disk, live->v[i].val) == NULL) {
			fprintf(out, "missing %s: object of delivery %s\n", live->v[i].val,
				live->v[i].key);
			rep->missing++;
		}
	}
}

/* arc_verify - check objects, journal and index against each other */
int arc_verify(arc_archive *a, FILE *out, arc_verify_report *rep, char **err)
{
	journal_view jv;
	vec idx, live, disk, refs, not_indexed, orphans;
	arc_query q;
	int lock, rc = -1;
	size_t i;

	*err = NULL;
	memset(rep, 0, sizeof(*rep));
	memset(&jv, 0, sizeof(jv));
	memset(&idx, 0, sizeof(idx));
	memset(&live, 0, sizeof(live));
	memset(&disk, 0, sizeof(disk));
	memset(&refs, 0, sizeof(refs));
	memset(&not_indexed, 0, sizeof(not_indexed));
	memset(&orphans, 0, sizeof(orphans));
	if ((lock = arc_archive_maintenance_lock(a)) < 0) {
		*err = maintenance_lock_error(a);
		return -1;
	}
	/* the index first: whatever it holds was journaled before */
	arc_query_init(&q);
	if (arc_index_search(a->index, &q, index_row, &idx, err) < 0)
		goto done;
	vec_sort(&idx);
	if (read_journal(a, &jv, out, rep, err) < 0)
		goto done;
	live_deliveries(&jv, &live);
	compare_index(&live, &idx, &not_indexed, out, rep);
	if (arc_store_each(a->store, disk_object, &disk) < 0) {
		*err = pn_asprintf("cannot list the objects: %s", strerror(errno));
		goto done;
	}
	vec_sort(&disk);
	/* a voided delivery's object is no orphan: the MTA refused the message
	 * after it was stored, and prune deletes the object when nothing uses it */
	for (i = 0; i < jv.deliveries.n; i++)
		vec_add(&refs, jv.deliveries.v[i].val, NULL, 0);
	vec_sort(&refs);
	check_objects(a, &disk, &refs, &jv, &orphans, out, rep);
	check_missing(&live, &disk, out, rep);
	if (confirm(a, &not_indexed, &orphans, out, rep, err) < 0)
		goto done;
	rep->objects = disk.n;
	rep->deliveries = live.n;
	rc = rep->corrupt || rep->missing || rep->orphaned || rep->not_in_index
	     || rep->not_in_journal || rep->index_differs || rep->damaged_lines ? 1 : 0;
done:
	arc_archive_maintenance_unlock(a, lock);
	vec_free(&jv.deliveries);
	vec_free(&jv.voids);
	vec_free(&jv.objects);
	vec_free(&idx);
	vec_free(&live);
	vec_free(&disk);
	vec_free(&refs);
	vec_free(&not_indexed);
	vec_free(&orphans);
	return rc;
}

/* ---- reindex ----------------------------------------------------- */

typedef struct text_cache {
	arc_archive *a;
	char sha[65];
	char *text;
} text_cache;

/* cached_text - an object's text, extracted once for all its deliveries */
static char *cached_text(void *ctx, const arc_delivery *d)
{
	text_cache *c = ctx;

	if (strcmp(c->sha, d->sha256) != 0) {
		pn_free(c->text);
		c->text = arc_archive_text(c->a, d);
		snprintf(c->sha, sizeof(c->sha), "%s", d->sha256);
	}
	return c->text ? pn_strdup(c->text) : NULL;
}

/* arc_reindex - rebuild the index from the journal and the objects */
int arc_reindex(arc_archive *a, size_t *applied, char **err)
{
	text_cache c;
	int lock, rc;

	*err = NULL;
	memset(&c, 0, sizeof(c));
	c.a = a;
	if ((lock = arc_archive_maintenance_lock(a)) < 0) {
		*err = maintenance_lock_error(a);
		return -1;
	}
	rc = arc_index_reset(a->index, err);
	if (rc == 0)
		rc = arc_archive_catch_up_all(a, cached_text, &c, applied, err);
	pn_free(c.text);
	arc_archive_maintenance_unlock(a, lock);
	return rc;
}

/* ---- prune ------------------------------------------------------- */

typedef struct prune_ctx {
	vec expired;		/* id -> sha, time; flag = held (never) */
	vec objects;		/* candidates: sha, mtime */
	unsigned long long bytes;
} prune_ctx;

/* expired_row - collect one expired delivery */
static int expired_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	prune_ctx *p = ctx;

	if (!row->held)
		vec_add(&p->expired, d->id, d->sha256, d->time);
	return 0;
}

/* keep_unexpired - journal lines that prune keeps */
static int keep_unexpired(void *ctx, const arc_record *r)
{
	const vec *expired = ctx;

	return !(r->type == ARC_REC_DELIVERY && vec_find(expired, r->delivery->id));
}

/* keep_objects - drop the records of deleted objects */
static int keep_objects(void *ctx, const arc_record *r)
{
	const vec *gone = ctx;

	return !(r->type == ARC_REC_OBJECT && vec_find(gone, r->object.sha256));
}

typedef struct rewrite_ctx {
	vec *days;		/* day file names, sorted, may repeat */
	vec *set;
	arc_keep_fn keep;
} rewrite_ctx;

/* rewrite_one_journal - drop the records from one host's day files */
static int rewrite_one_journal(void *ctx, arc_journal *j, char **err)
{
	rewrite_ctx *c = ctx;
	size_t i, dropped;
	int rc = 0;

	for (i = 0; i < c->days->n && rc == 0; i++) {
		char *path;
		if (i > 0 && strcmp(c->days->v[i].key, c->days->v[i - 1].key) == 0)
			continue;
		path = pn_asprintf("%s/%s", arc_journal_dir(j), c->days->v[i].key);
		if (access(path, F_OK) == 0)
			rc = arc_journal_rewrite(j, c->days->v[i].key, c->keep, c->set, &dropped, err);
		pn_free(path);
	}
	return rc;
}

/* rewrite_days - remove records from the day files named by each entry's
 * time, in every host's journal (the index does not say which host
 * journaled a delivery; keep() drops only what set names) */
static int rewrite_days(arc_archive *a, vec *set, arc_keep_fn keep, char **err)
{
	vec days;
	rewrite_ctx c;
	size_t i;
	int rc;

	memset(&days, 0, sizeof(days));
	for (i = 0; i < set->n; i++) {
		char *f = arc_journal_file_for(set->v[i].t);
		vec_add(&days, f, NULL, 0);
		pn_free(f);
	}
	vec_sort(&days);
	c.days = &days;
	c.set = set;
	c.keep = keep;
	rc = arc_archive_each_journal(a, rewrite_one_journal, &c, err);
	vec_free(&days);
	return rc;
}

/* candidate_object - an object file prune might delete */
static int candidate_object(void *ctx, const arc_object *o)
{
	vec_add(ctx, o->sha256, NULL, o->time)->bytes = o->stored_size;
	return 0;
}

/* delete_objects - unreferenced objects, under the archive's exclusive lock */
static int delete_objects(arc_archive *a, int dry_run, FILE *out,
			  const vec *expired, arc_prune_report *rep, char **err)
{
	vec all, gone, freed_by;
	size_t i;
	int lock = -1, rc = 0;

	memset(&all, 0, sizeof(all));
	memset(&gone, 0, sizeof(gone));
	memset(&freed_by, 0, sizeof(freed_by));
	for (i = 0; dry_run && i < expired->n; i++)
		vec_add(&freed_by, expired->v[i].val, NULL, 0);
	vec_sort(&freed_by);
	if (arc_store_each(a->store, candidate_object, &all) < 0) {
		*err = pn_asprintf("cannot list the objects: %s", strerror(errno));
		return -1;
	}
	if (!dry_run && (lock = arc_lock(a->lock_path, 1, a->busy_ms, &a->owner)) < 0) {
		*err = pn_asprintf("cannot lock %s: %s", a->lock_path, strerror(errno));
		vec_free(&all);
		return -1;
	}
	/* writers hold the lock until their delivery is journaled, the daemon's
	 * indexer follows later: what they journaled must count as a use now */
	if (!dry_run && arc_archive_catch_up_all(a, arc_archive_text, a, NULL, err) < 0) {
		arc_unlock(lock);
		vec_free(&all);
		return -1;
	}
	for (i = 0; i < all.n; i++) {
		const entry *o = &all.v[i];
		long long uses = arc_index_uses(a->index, o->key);
		/* dry run: the deliveries about to expire still count as users */
		size_t freed = dry_run ? vec_count(&freed_by, o->key) : 0;
		arc_object row;

		if (uses < 0) {
			*err = pn_asprintf("cannot query the index for object %s", o->key);
			rc = -1;
			break;
		}
		if ((long long)freed != uses)
			continue;
		if (dry_run) {
			fprintf(out, "would delete object %s\n", o->key);
		} else {
			if (arc_store_remove(a->store, o->key) < 0) {
				*err = pn_asprintf("cannot delete object %s: %s", o->key,
						   strerror(errno));
				rc = -1;
				break;
			}
			vec_add(&gone, o->key, NULL,
				arc_index_object(a->index, o->key, &row) == 0 ? row.time : o->t);
			arc_index_delete_object(a->index, o->key);
		}
		rep->objects++;
		rep->stored_bytes += o->bytes;
	}
	arc_unlock(lock);
	if (rc == 0 && !dry_run && gone.n) {
		vec_sort(&gone);
		rc = rewrite_days(a, &gone, keep_objects, err);
	}
	vec_free(&all);
	vec_free(&gone);
	vec_free(&freed_by);
	return rc;
}

/* arc_prune - delete what retention allows, never what is held */
int arc_prune(arc_archive *a, long long now, int dry_run, FILE *out, arc_prune_report *rep,
	      char **err)
{
	prune_ctx p;
	long long cutoff = arc_retention_cutoff(&a->retention, now);
	int lock, rc = -1;
	size_t i;

	*err = NULL;
	memset(rep, 0, sizeof(*rep));
	memset(&p, 0, sizeof(p));
	if ((lock = arc_archive_maintenance_lock(a)) < 0) {
		*err = maintenance_lock_error(a);
		return -1;
	}
	/* an index behind a journal (any host's) would make used objects look unused */
	if (arc_archive_catch_up_all(a, arc_archive_text, a, NULL, err) < 0)
		goto done;
	if (cutoff >= 0 && arc_index_expired(a->index, cutoff, expired_row, &p, err) < 0)
		goto done;
	vec_sort(&p.expired);
	rep->deliveries = p.expired.n;
	if (dry_run) {
		for (i = 0; i < p.expired.n; i++) {
			char when[ARC_TIME_LEN];
			arc_format_time(p.expired.v[i].t, when);
			fprintf(out, "would delete delivery %s (%s)\n", p.expired.v[i].key, when);
		}
	} else {
		/* the journal first: it is what a reindex would bring back */
		if (p.expired.n && rewrite_days(a, &p.expired, keep_unexpired, err) < 0)
			goto done;
		for (i = 0; i < p.expired.n; i += DELETE_CHUNK) {
			size_t k = p.expired.n - i < DELETE_CHUNK ? p.expired.n - i : DELETE_CHUNK;
			char **ids = pn_malloc(k * sizeof(char *));
			size_t j;
			int r;
			for (j = 0; j < k; j++)
				ids[j] = p.expired.v[i + j].key;
			r = arc_index_delete(a->index, ids, k, err);
			pn_free(ids);
			if (r < 0)
				goto done;
		}
	}
	rc = delete_objects(a, dry_run, out, &p.expired, rep, err);
done:
	arc_archive_maintenance_unlock(a, lock);
	vec_free(&p.expired);
	vec_free(&p.objects);
	return rc;
}

/* ---- hold -------------------------------------------------------- */

typedef struct hold_ctx {
	vec ids;
	int hold;
} hold_ctx;

/* hold_row - deliveries whose state would change */
static int hold_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	hold_ctx *h = ctx;

	if (row->held != h->hold)
		vec_add(&h->ids, d->id, NULL, d->time);
	return 0;
}

/* arc_hold - put deliveries under legal hold, or release them */
int arc_hold(arc_archive *a, const arc_query *q, int hold, const char *reason, const char *user,
	     long long now_usec, size_t *count, char **err)
{
	hold_ctx h;
	int lock, rc = 0;
	size_t i;

	*err = NULL;
	*count = 0;
	memset(&h, 0, sizeof(h));
	h.hold = hold ? 1 : 0;
	if ((lock = arc_archive_maintenance_lock(a)) < 0) {
		*err = maintenance_lock_error(a);
		return -1;
	}
	/* a delivery some host journaled and the index lacks yet is held too */
	if (arc_archive_catch_up_all(a, arc_archive_text, a, NULL, err) < 0
	    || arc_index_search(a->index, q, hold_row, &h, err) < 0) {
		rc = -1;
		goto done;
	}
	for (i = 0; i < h.ids.n && rc == 0; i += HOLD_CHUNK) {
		size_t k = h.ids.n - i < HOLD_CHUNK ? h.ids.n - i : HOLD_CHUNK, j;
		arc_record r;

		memset(&r, 0, sizeof(r));
		r.type = hold ? ARC_REC_HOLD : ARC_REC_RELEASE;
		r.ids = pn_malloc(k * sizeof(char *));
		for (j = 0; j < k; j++)
			r.ids[j] = h.ids.v[i + j].key;
		r.nids = k;
		r.usec = now_usec + (long long)(i / HOLD_CHUNK);
		r.time = now_usec / 1000000;
		r.reason = (char *)(reason ? reason : "");
		r.user = (char *)(user ? user : "");
		rc = arc_journal_append(a->journal, &r, 1, err);
		if (rc == 0)
			rc = arc_index_apply(a->index, &r, err);
		if (rc == 0)
			*count += k;
		pn_free(r.ids);
	}
done:
	arc_archive_maintenance_unlock(a, lock);
	vec_free(&h.ids);
	return rc;
}
