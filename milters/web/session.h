/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	session - postern-web's server-side sessions and CSRF tokens
 * SYNOPSIS
 *	#include "milters/web/session.h"
 *
 *	web_sessions *web_sessions_new(long idle, long lifetime, size_t max);
 *	void web_sessions_free(web_sessions *s);
 *	int  web_session_create(web_sessions *s, const web_user *u,
 *	                        long long now, web_session *out);
 *	int  web_session_find(web_sessions *s, const char *id, long long now,
 *	                      web_session *out);
 *	void web_session_destroy(web_sessions *s, const char *id);
 *	size_t web_sessions_count(web_sessions *s);
 *	int  web_token_new(char out[WEB_TOKEN_LEN + 1]);
 *	int  web_token_ok(const char *s);
 *	int  web_token_equal(const char *a, const char *b);
 *	int  web_token_signed_new(const unsigned char key[32],
 *	                          char out[WEB_TOKEN_LEN + 1]);
 *	int  web_token_signed_ok(const unsigned char key[32], const char *s);
 * DESCRIPTION
 *	A session lives in this process only: the browser holds its id
 *	(cookie postern_session), 256 bits from OpenSSL's RAND_bytes as 64
 *	hex digits, and the server holds the user, the role, the session's
 *	CSRF token (another 256 random bits) and two times. A session ends
 *	after idle seconds without a request, after lifetime seconds
 *	whatever happens, at logout (web_session_destroy()), and when the
 *	daemon stops. Every login creates a new id (an id an attacker
 *	planted before the login never becomes a logged-in session:
 *	fixation). At most max sessions exist: the one used least recently
 *	gives way to a new one (expired ones first), so a flood of logins
 *	cannot grow memory.
 *
 *	web_session_find() copies a live session into out and marks it
 *	used at now. Ids are compared in constant time.
 *	web_token_equal() compares two tokens in constant time (CRYPTO_memcmp
 *	over the whole length); NULL, empty or unequal lengths are unequal.
 *	web_token_ok() accepts exactly 64 lower-case hex digits.
 *
 *	The login form's token (before there is a session) is signed:
 *	128 random bits and the first 128 bits of their HMAC-SHA256 under
 *	key (the process's secret, random at start), 64 hex digits in all.
 *	web_token_signed_ok() accepts only a token this process made, so a
 *	cookie an attacker sets from a sibling domain (cookie tossing) with
 *	a token of his own choosing is refused even when the form matches it.
 *
 *	The table is locked: pages run on many threads.
 * DIAGNOSTICS
 *	web_session_create() and web_token_new() return -1 when the random
 *	generator fails; web_session_find() returns 1 (found) or 0.
 */
#ifndef WEB_SESSION_H
#define WEB_SESSION_H

#include <stddef.h>

#include "milters/web/web.h"

#define WEB_TOKEN_LEN 64

typedef struct web_session {
	char id[WEB_TOKEN_LEN + 1];
	char csrf[WEB_TOKEN_LEN + 1];
	web_user user;
	long long created, used;
} web_session;

typedef struct web_sessions web_sessions;

web_sessions *web_sessions_new(long idle, long lifetime, size_t max);
void web_sessions_free(web_sessions *s);
int web_session_create(web_sessions *s, const web_user *u, long long now, web_session *out);
int web_session_find(web_sessions *s, const char *id, long long now, web_session *out);
void web_session_destroy(web_sessions *s, const char *id);
size_t web_sessions_count(web_sessions *s);
int web_token_new(char out[WEB_TOKEN_LEN + 1]);
int web_token_ok(const char *s);
int web_token_equal(const char *a, const char *b);
int web_token_signed_new(const unsigned char key[32], char out[WEB_TOKEN_LEN + 1]);
int web_token_signed_ok(const unsigned char key[32], const char *s);

#endif
