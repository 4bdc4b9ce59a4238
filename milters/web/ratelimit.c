/* SPDX-License-Identifier: BSD-2-Clause */
/* ratelimit - bounded failed-login counters (see ratelimit.h) */
#include "milters/web/ratelimit.h"
#include "common/alloc.h"

#include <pthread.h>
#include <string.h>

typedef struct slot {
	char key[128];		/* "" : free */
	unsigned failures;
	long long start;	/* first failure of the window */
} slot;

struct web_limiter {
	pthread_mutex_t lock;
	size_t n;
	unsigned limit;
	long window;
	slot *slot;
};

web_limiter *web_limiter_new(size_t slots, unsigned limit, long window)
{
	web_limiter *l = pn_calloc(1, sizeof(*l));

	pthread_mutex_init(&l->lock, NULL);
	l->n = slots ? slots : 1;
	l->limit = limit ? limit : 1;
	l->window = window;
	l->slot = pn_calloc(l->n, sizeof(*l->slot));
	return l;
}

void web_limiter_free(web_limiter *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	pn_free(l->slot);
	pn_free(l);
}

/* lookup - the slot of key (cut to the slot's size), or NULL */
static slot *lookup(web_limiter *l, const char *key)
{
	size_t i, n = strnlen(key, sizeof(l->slot->key) - 1);

	for (i = 0; i < l->n; i++)
		if (l->slot[i].key[0] && strncmp(l->slot[i].key, key, n) == 0
		    && l->slot[i].key[n] == '\0')
			return &l->slot[i];
	return NULL;
}

int web_limiter_blocked(web_limiter *l, const char *key, long long now)
{
	slot *s;
	int blocked = 0;

	pthread_mutex_lock(&l->lock);
	if ((s = lookup(l, key)) != NULL)
		blocked = s->failures >= l->limit && now - s->start < l->window && now >= s->start;
	pthread_mutex_unlock(&l->lock);
	return blocked;
}

void web_limiter_fail(web_limiter *l, const char *key, long long now)
{
	slot *s, *victim = NULL;
	size_t i;

	if (*key == '\0')
		return;
	pthread_mutex_lock(&l->lock);
	if ((s = lookup(l, key)) == NULL) {
		for (i = 0; i < l->n; i++) {
			slot *c = &l->slot[i];
			if (c->key[0] == '\0' || now - c->start >= l->window) {
				victim = c;
				break;
			}
			if (victim == NULL || c->start < victim->start)
				victim = c;
		}
		s = victim;
		memset(s, 0, sizeof(*s));
		strncpy(s->key, key, sizeof(s->key) - 1);
	}
	if (s->failures == 0 || now - s->start >= l->window || now < s->start) {
		s->failures = 0;
		s->start = now;
	}
	if (s->failures < l->limit)
		s->failures++;
	pthread_mutex_unlock(&l->lock);
}

void web_limiter_clear(web_limiter *l, const char *key)
{
	slot *s;

	pthread_mutex_lock(&l->lock);
	if ((s = lookup(l, key)) != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&l->lock);
}

size_t web_limiter_used(web_limiter *l)
{
	size_t i, n = 0;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->n; i++)
		n += l->slot[i].key[0] != '\0';
	pthread_mutex_unlock(&l->lock);
	return n;
}
