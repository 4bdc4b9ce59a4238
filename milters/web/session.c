/* SPDX-License-Identifier: BSD-2-Clause */
/* session - server-side sessions, CSRF tokens (see session.h) */
#include "milters/web/session.h"
#include "common/alloc.h"
#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct web_sessions {
	pthread_mutex_t lock;
	long idle, lifetime;
	size_t max;
	web_session *slot;	/* max slots; id[0] == '\0': free */
};

/* web_token_new - 256 random bits as 64 hex digits */
int web_token_new(char out[WEB_TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[WEB_TOKEN_LEN / 2];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < sizeof(r); i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[WEB_TOKEN_LEN] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	return 0;
}

/* web_token_ok - exactly 64 lower-case hex digits */
int web_token_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < WEB_TOKEN_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[WEB_TOKEN_LEN] == '\0';
}

/* web_token_equal - constant-time comparison of two tokens */
int web_token_equal(const char *a, const char *b)
{
	size_t n;

	if (a == NULL || b == NULL || (n = strlen(a)) == 0 || strlen(b) != n)
		return 0;
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* signature - hex of the first 16 bytes of HMAC-SHA256(key, the 32 hex digits at r) */
static void signature(const unsigned char key[32], const char *r, char out[33])
{
	unsigned char mac[32];

	pn_hmac_sha256(key, 32, r, WEB_TOKEN_LEN / 2, mac);
	pn_hex(mac, 16, out);
	out[32] = '\0';
}

int web_token_signed_new(const unsigned char key[32], char out[WEB_TOKEN_LEN + 1])
{
	char sig[33];

	if (web_token_new(out) < 0)
		return -1;
	signature(key, out, sig);
	memcpy(out + WEB_TOKEN_LEN / 2, sig, 32);
	out[WEB_TOKEN_LEN] = '\0';
	return 0;
}

int web_token_signed_ok(const unsigned char key[32], const char *s)
{
	char sig[33];

	if (!web_token_ok(s))
		return 0;
	signature(key, s, sig);
	return CRYPTO_memcmp(sig, s + WEB_TOKEN_LEN / 2, 32) == 0;
}

web_sessions *web_sessions_new(long idle, long lifetime, size_t max)
{
	web_sessions *s = pn_calloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->idle = idle;
	s->lifetime = lifetime;
	s->max = max ? max : 1;
	s->slot = pn_calloc(s->max, sizeof(*s->slot));
	return s;
}

void web_sessions_free(web_sessions *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s->slot, s->max * sizeof(*s->slot));
	pn_free(s->slot);
	pthread_mutex_destroy(&s->lock);
	pn_free(s);
}

/* expired - the session is past its idle timeout or its lifetime */
static int expired(const web_sessions *s, const web_session *e, long long now)
{
	return now - e->used >= s->idle || now - e->created >= s->lifetime || now < e->created;
}

/* find_slot - the slot holding id (constant-time compare per slot), or NULL */
static web_session *find_slot(web_sessions *s, const char *id)
{
	web_session *hit = NULL;
	size_t i;

	if (!web_token_ok(id))
		return NULL;
	for (i = 0; i < s->max; i++)
		if (s->slot[i].id[0] && CRYPTO_memcmp(s->slot[i].id, id, WEB_TOKEN_LEN) == 0)
			hit = &s->slot[i];
	return hit;
}

int web_session_create(web_sessions *s, const web_user *u, long long now, web_session *out)
{
	web_session e, *victim = NULL;
	size_t i;

	memset(&e, 0, sizeof(e));
	if (web_token_new(e.id) < 0 || web_token_new(e.csrf) < 0)
		return -1;
	e.user = *u;
	e.created = e.used = now;
	pthread_mutex_lock(&s->lock);
	/* a free slot, else an expired one, else the least recently used */
	for (i = 0; i < s->max; i++) {
		web_session *c = &s->slot[i];
		if (c->id[0] == '\0' || expired(s, c, now)) {
			victim = c;
			break;
		}
		if (victim == NULL || c->used < victim->used)
			victim = c;
	}
	*victim = e;
	pthread_mutex_unlock(&s->lock);
	*out = e;
	OPENSSL_cleanse(&e, sizeof(e));
	return 0;
}

int web_session_find(web_sessions *s, const char *id, long long now, web_session *out)
{
	web_session *e;
	int found = 0;

	pthread_mutex_lock(&s->lock);
	if ((e = find_slot(s, id)) != NULL) {
		if (expired(s, e, now)) {
			OPENSSL_cleanse(e, sizeof(*e));
		} else {
			e->used = now;
			*out = *e;
			found = 1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

void web_session_destroy(web_sessions *s, const char *id)
{
	web_session *e;

	pthread_mutex_lock(&s->lock);
	if ((e = find_slot(s, id)) != NULL)
		OPENSSL_cleanse(e, sizeof(*e));
	pthread_mutex_unlock(&s->lock);
}

size_t web_sessions_count(web_sessions *s)
{
	size_t i, n = 0;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->max; i++)
		n += s->slot[i].id[0] != '\0';
	pthread_mutex_unlock(&s->lock);
	return n;
}
