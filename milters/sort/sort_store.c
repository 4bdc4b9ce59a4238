/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_store - postern-sort's response store (sort_store.h)
 *
 * The file is a 16-byte header ("postern-store 1\n") and then records of
 * 40 bytes: the 32-byte key and the expiry as a 64-bit big-endian number
 * of seconds. It is a log: every put appends one record, a later record
 * of a key replaces an earlier one, and when the log holds twice as many
 * records as the store has keys it is rewritten whole (pn_replace_file(),
 * so a crash leaves the old log or the new one). A record cut short by a
 * crash is ignored at open and cut off. Appends are not flushed to disk:
 * a crash may forget the last replies, which costs at most one more
 * reply or one more delivery, never a message.
 *
 * In memory the keys sit in a fixed array of max_entries slots indexed
 * by a chained hash table whose bucket is derived from the key and a
 * random seed (a sender cannot line up keys in one chain). When the store
 * is full, the key with the oldest expiry (an expired one first) makes
 * room: one scan, only when full.
 *
 * Opening a path that this process already has open returns the same
 * store (reference counted), so a configuration reload, which builds a
 * new engine state while connections still use the old one, never has
 * two writers of one file.
 */
#include "milters/sort/sort_store.h"
#include "common/alloc.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAGIC "postern-store 1\n"
#define MAGIC_LEN 16
#define KEY_LEN 32
#define REC_LEN (KEY_LEN + 8)
#define NO_SLOT UINT32_MAX
/* the log is rewritten when it holds this many more records than keys */
#define SLACK_RECORDS 1024

typedef struct slot {
	unsigned char key[KEY_LEN];
	time_t until;
	uint32_t next;		/* next slot in the bucket, or NO_SLOT */
	int used;
} slot;

struct sort_store {
	char *path;
	int fd;
	int refs;
	unsigned max;
	slot *slots;
	uint32_t *buckets;	/* first slot of each bucket */
	uint32_t nbuckets;	/* a power of two */
	uint32_t free_head;	/* unused slots, chained through next */
	unsigned count;
	unsigned long log_records;	/* records in the file */
	uint64_t seed;
	pthread_mutex_t lock;
	struct sort_store *next_open;
};

/* stores open in this process, by path */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static sort_store *open_stores;

/* bucket_of - the bucket of key: a keyed mix of its first bytes */
static uint32_t bucket_of(const sort_store *st, const unsigned char *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	h ^= st->seed;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h & (st->nbuckets - 1);
}

/* find - the slot of key, or NO_SLOT; *prev its predecessor in the chain */
static uint32_t find(const sort_store *st, const unsigned char *key, uint32_t *prev)
{
	uint32_t i = st->buckets[bucket_of(st, key)], p = NO_SLOT;

	while (i != NO_SLOT && memcmp(st->slots[i].key, key, KEY_LEN) != 0) {
		p = i;
		i = st->slots[i].next;
	}
	if (prev != NULL)
		*prev = p;
	return i;
}

/* unlink_slot - take slot i out of its bucket and onto the free list */
static void unlink_slot(sort_store *st, uint32_t i)
{
	uint32_t prev, b = bucket_of(st, st->slots[i].key);

	(void)find(st, st->slots[i].key, &prev);
	if (prev == NO_SLOT)
		st->buckets[b] = st->slots[i].next;
	else
		st->slots[prev].next = st->slots[i].next;
	st->slots[i].used = 0;
	st->slots[i].next = st->free_head;
	st->free_head = i;
	st->count--;
}

/* evict_oldest - free the slot whose expiry comes first */
static void evict_oldest(sort_store *st)
{
	uint32_t i, best = NO_SLOT;

	for (i = 0; i < st->max; i++)
		if (st->slots[i].used && (best == NO_SLOT || st->slots[i].until < st->slots[best].until))
			best = i;
	if (best != NO_SLOT)
		unlink_slot(st, best);
}

/* set_key - record key until until in memory */
static void set_key(sort_store *st, const unsigned char *key, time_t until)
{
	uint32_t i = find(st, key, NULL), b;

	if (i != NO_SLOT) {
		st->slots[i].until = until;
		return;
	}
	if (st->free_head == NO_SLOT)
		evict_oldest(st);
	i = st->free_head;
	st->free_head = st->slots[i].next;
	memcpy(st->slots[i].key, key, KEY_LEN);
	st->slots[i].until = until;
	st->slots[i].used = 1;
	b = bucket_of(st, key);
	st->slots[i].next = st->buckets[b];
	st->buckets[b] = i;
	st->count++;
}

/* encode - one record */
static void encode(unsigned char *rec, const unsigned char *key, time_t until)
{
	uint64_t v = (uint64_t)(int64_t)until;
	int k;

	memcpy(rec, key, KEY_LEN);
	for (k = 7; k >= 0; k--) {
		rec[KEY_LEN + k] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/* decode_until - the expiry of one record */
static time_t decode_until(const unsigned char *rec)
{
	uint64_t v = 0;
	int k;

	for (k = 0; k < 8; k++)
		v = (v << 8) | rec[KEY_LEN + k];
	return (time_t)(int64_t)v;
}

/* rewrite - replace the log by the keys in memory, and append to the new file */
static int rewrite(sort_store *st)
{
	size_t len = MAGIC_LEN + (size_t)st->count * REC_LEN, off = MAGIC_LEN;
	unsigned char *data = pn_malloc(len);
	const char *step = NULL;
	uint32_t i;
	int fd;

	memcpy(data, STORE_MAGIC, MAGIC_LEN);
	for (i = 0; i < st->max; i++) {
		if (!st->slots[i].used)
			continue;
		encode(data + off, st->slots[i].key, st->slots[i].until);
		off += REC_LEN;
	}
	if (pn_replace_file(st->path, data, len, 0, &step) != 0) {
		pn_log(PN_LOG_ERROR, "response store %s: %s: %s", st->path, step ? step : "rewrite",
		       strerror(errno));
		pn_free(data);
		return -1;
	}
	pn_free(data);
	fd = pn_safe_open(AT_FDCWD, st->path, O_RDWR | O_APPEND, PN_SAFE_ANY_OWNER);
	if (fd < 0) {
		pn_log(PN_LOG_ERROR, "response store %s: reopen: %s", st->path, strerror(errno));
		return -1;
	}
	close(st->fd);
	st->fd = fd;
	st->log_records = st->count;
	return 0;
}

/* append - one record at the end of the log, rewriting it when it grew too long */
static int append(sort_store *st, const unsigned char *key, time_t until)
{
	unsigned char rec[REC_LEN];

	if (st->log_records >= 2UL * st->count + SLACK_RECORDS)
		return rewrite(st);	/* the new log holds key already */
	encode(rec, key, until);
	if (pn_write_all(st->fd, rec, REC_LEN) != 0) {
		pn_log(PN_LOG_ERROR, "response store %s: write: %s", st->path, strerror(errno));
		return -1;
	}
	st->log_records++;
	return 0;
}

/* load - read the log into memory; a new or empty file gets its header */
static int load(sort_store *st, char **err)
{
	size_t len = 0, off, whole;
	unsigned char *data;
	struct stat sb;

	if (fstat(st->fd, &sb) != 0) {
		*err = pn_asprintf("%s: %s", st->path, strerror(errno));
		return -1;
	}
	if (sb.st_size == 0) {
		if (pn_write_all(st->fd, STORE_MAGIC, MAGIC_LEN) != 0) {
			*err = pn_asprintf("%s: write: %s", st->path, strerror(errno));
			return -1;
		}
		return 0;
	}
	data = (unsigned char *)pn_read_fd(st->fd, MAGIC_LEN + (size_t)REC_LEN * (2 * (size_t)st->max + SLACK_RECORDS + 1), &len);
	if (data == NULL) {
		*err = pn_asprintf("%s: %s", st->path, strerror(errno));
		return -1;
	}
	if (len < MAGIC_LEN || memcmp(data, STORE_MAGIC, MAGIC_LEN) != 0) {
		*err = pn_asprintf("%s: not a postern-sort response store", st->path);
		pn_free(data);
		return -1;
	}
	whole = MAGIC_LEN + (len - MAGIC_LEN) / REC_LEN * REC_LEN;
	for (off = MAGIC_LEN; off < whole; off += REC_LEN) {
		set_key(st, data + off, decode_until(data + off));
		st->log_records++;
	}
	pn_free(data);
	if (whole != len && ftruncate(st->fd, (off_t)whole) != 0) {
		*err = pn_asprintf("%s: cutting a partial record: %s", st->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* store_new - an empty store of max slots for path */
static sort_store *store_new(const char *path, unsigned max)
{
	sort_store *st = pn_calloc(1, sizeof(*st));
	uint32_t i;

	st->path = pn_strdup(path);
	st->fd = -1;
	st->max = max;
	st->slots = pn_calloc(max, sizeof(*st->slots));
	for (st->nbuckets = 1; st->nbuckets < max && st->nbuckets < (1U << 30);)
		st->nbuckets <<= 1;
	st->buckets = pn_malloc((size_t)st->nbuckets * sizeof(*st->buckets));
	for (i = 0; i < st->nbuckets; i++)
		st->buckets[i] = NO_SLOT;
	for (i = 0; i < max; i++)
		st->slots[i].next = i + 1 < max ? i + 1 : NO_SLOT;
	st->free_head = 0;
	if (getrandom(&st->seed, sizeof(st->seed), GRND_NONBLOCK) != (ssize_t)sizeof(st->seed))
		st->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)st;
	pthread_mutex_init(&st->lock, NULL);
	st->refs = 1;
	return st;
}

/* store_free - everything of a store no one uses */
static void store_free(sort_store *st)
{
	if (st->fd >= 0)
		close(st->fd);
	pthread_mutex_destroy(&st->lock);
	pn_free(st->slots);
	pn_free(st->buckets);
	pn_free(st->path);
	pn_free(st);
}

/* sort_store_open - the store in path, created when missing */
sort_store *sort_store_open(const char *path, unsigned max_entries, char **err)
{
	sort_store *st;

	*err = NULL;
	if (max_entries == 0 || max_entries >= NO_SLOT) {
		*err = pn_asprintf("%s: store size %u out of range", path, max_entries);
		return NULL;
	}
	pthread_mutex_lock(&open_lock);
	for (st = open_stores; st; st = st->next_open) {
		if (strcmp(st->path, path) == 0) {
			st->refs++;
			pthread_mutex_unlock(&open_lock);
			return st;
		}
	}
	st = store_new(path, max_entries);
	st->fd = pn_safe_open_or_create(AT_FDCWD, path, O_RDWR | O_APPEND, 0600, (uid_t)-1,
					(gid_t)-1, NULL);
	if (st->fd < 0) {
		*err = pn_asprintf("%s: %s", path, strerror(errno));
		store_free(st);
		pthread_mutex_unlock(&open_lock);
		return NULL;
	}
	if (load(st, err) != 0) {
		store_free(st);
		pthread_mutex_unlock(&open_lock);
		return NULL;
	}
	st->next_open = open_stores;
	open_stores = st;
	pthread_mutex_unlock(&open_lock);
	return st;
}

/* sort_store_close - give the store back; the last user closes it */
void sort_store_close(sort_store *st)
{
	sort_store **pp;

	if (st == NULL)
		return;
	pthread_mutex_lock(&open_lock);
	if (--st->refs > 0) {
		pthread_mutex_unlock(&open_lock);
		return;
	}
	for (pp = &open_stores; *pp; pp = &(*pp)->next_open) {
		if (*pp == st) {
			*pp = st->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&open_lock);
	store_free(st);
}

/* seen_locked - key recorded and not expired at now */
static int seen_locked(const sort_store *st, const unsigned char *key, time_t now)
{
	uint32_t i = find(st, key, NULL);

	return i != NO_SLOT && st->slots[i].until > now;
}

/* sort_store_seen - 1 when key counts as seen at now */
int sort_store_seen(sort_store *st, const unsigned char key[32], time_t now)
{
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = seen_locked(st, key, now);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* sort_store_put - record key until until */
int sort_store_put(sort_store *st, const unsigned char key[32], time_t until)
{
	int rc;

	pthread_mutex_lock(&st->lock);
	set_key(st, key, until);
	rc = append(st, key, until);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* sort_store_claim - 1 when already seen, else record it and 0 */
int sort_store_claim(sort_store *st, const unsigned char key[32], time_t now, time_t until)
{
	int rc = 1;

	pthread_mutex_lock(&st->lock);
	if (!seen_locked(st, key, now)) {
		set_key(st, key, until);
		rc = append(st, key, until);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}
