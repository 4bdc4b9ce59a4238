/* SPDX-License-Identifier: BSD-2-Clause */
/* test_web_session - sessions (idle timeout and lifetime on an injected
 * clock, a new id per login, logout, the bounded table), CSRF token
 * comparison, and the login limiter under a flood of names */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "milters/web/ratelimit.h"
#include "milters/web/session.h"

static web_user user(const char *name, web_role role)
{
	web_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.role = role;
	return u;
}

static void tokens(void **state)
{
	char a[WEB_TOKEN_LEN + 1], b[WEB_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(web_token_new(a), 0);
	assert_int_equal(web_token_new(b), 0);
	assert_true(web_token_ok(a));
	assert_string_not_equal(a, b);
	assert_true(web_token_equal(a, a));
	assert_false(web_token_equal(a, b));
	assert_false(web_token_equal(a, NULL));
	assert_false(web_token_equal(NULL, NULL));
	assert_false(web_token_equal("", ""));
	/* a prefix is not the token */
	b[10] = '\0';
	memcpy(b, a, 10);
	assert_false(web_token_equal(a, b));
	assert_false(web_token_ok("ABCD"));
	assert_false(web_token_ok(NULL));
	memcpy(b, a, sizeof(b));
	b[5] = 'G';
	assert_false(web_token_ok(b));
}

static void signed_login_tokens(void **state)
{
	unsigned char key[32], other[32];
	char t[WEB_TOKEN_LEN + 1], forged[WEB_TOKEN_LEN + 1];

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	assert_int_equal(web_token_signed_new(key, t), 0);
	assert_true(web_token_ok(t));
	assert_true(web_token_signed_ok(key, t));
	assert_false(web_token_signed_ok(other, t));	/* another process's */
	/* an attacker's own random token, or one bit changed, is refused */
	assert_int_equal(web_token_new(forged), 0);
	assert_false(web_token_signed_ok(key, forged));
	memcpy(forged, t, sizeof(forged));
	forged[3] = forged[3] == 'a' ? 'b' : 'a';
	assert_false(web_token_signed_ok(key, forged));
	assert_false(web_token_signed_ok(key, NULL));
	assert_false(web_token_signed_ok(key, ""));
}

static void expiry_on_an_injected_clock(void **state)
{
	web_sessions *s = web_sessions_new(900, 8 * 3600, 16);
	web_user u = user("alice", WEB_ROLE_ADMIN);
	web_session a, got;
	long long t = 1000000;

	(void)state;
	assert_int_equal(web_session_create(s, &u, t, &a), 0);
	assert_true(web_token_ok(a.id) && web_token_ok(a.csrf));
	assert_string_not_equal(a.id, a.csrf);
	assert_int_equal(web_session_find(s, a.id, t + 899, &got), 1);
	assert_string_equal(got.user.name, "alice");
	assert_string_equal(got.csrf, a.csrf);
	/* each use restarts the idle clock ... */
	for (int i = 1; i <= 31; i++)
		assert_int_equal(web_session_find(s, a.id, t + i * 899LL, &got), 1);
	/* ... but not the lifetime: 8 h after the login it ends */
	assert_int_equal(web_session_find(s, a.id, t + 8 * 3600, &got), 0);
	assert_int_equal(web_session_find(s, a.id, t + 8 * 3600 - 1, &got), 0);	/* gone for good */
	/* idle */
	assert_int_equal(web_session_create(s, &u, t, &a), 0);
	assert_int_equal(web_session_find(s, a.id, t + 900, &got), 0);
	/* a clock that went back does not revive anything odd */
	assert_int_equal(web_session_create(s, &u, t, &a), 0);
	assert_int_equal(web_session_find(s, a.id, t - 10, &got), 0);
	web_sessions_free(s);
}

static void new_id_per_login_and_logout(void **state)
{
	web_sessions *s = web_sessions_new(900, 3600, 16);
	web_user u = user("bob", WEB_ROLE_AUDITOR);
	web_session a, b, got;
	char planted[] = "abababababababababababababababababababababababababababababababab";

	(void)state;
	/* an id nobody created finds nothing */
	assert_int_equal(web_session_find(s, planted, 10, &got), 0);
	assert_int_equal(web_session_create(s, &u, 10, &a), 0);
	assert_int_equal(web_session_create(s, &u, 10, &b), 0);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.csrf, b.csrf);
	web_session_destroy(s, a.id);
	assert_int_equal(web_session_find(s, a.id, 11, &got), 0);
	assert_int_equal(web_session_find(s, b.id, 11, &got), 1);
	assert_int_equal(web_sessions_count(s), 1);
	/* malformed ids are not looked up at all */
	assert_int_equal(web_session_find(s, "", 11, &got), 0);
	assert_int_equal(web_session_find(s, NULL, 11, &got), 0);
	web_sessions_free(s);
}

static void bounded_table(void **state)
{
	web_sessions *s = web_sessions_new(900, 3600, 8);
	web_user u = user("carol", WEB_ROLE_AUDITOR);
	web_session first, x, got;

	(void)state;
	assert_int_equal(web_session_create(s, &u, 100, &first), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(web_session_create(s, &u, 101 + i, &x), 0);
	assert_int_equal(web_sessions_count(s), 8);
	/* the least recently used went first; the newest is there */
	assert_int_equal(web_session_find(s, first.id, 1200, &got), 0);
	assert_int_equal(web_session_find(s, x.id, 1200, &got), 1);
	web_sessions_free(s);
}

static void limiter_blocks_after_the_limit(void **state)
{
	web_limiter *l = web_limiter_new(64, 5, 900);

	(void)state;
	for (int i = 0; i < 4; i++)
		web_limiter_fail(l, "192.0.2.1", 1000 + i);
	assert_false(web_limiter_blocked(l, "192.0.2.1", 1005));
	web_limiter_fail(l, "192.0.2.1", 1005);
	assert_true(web_limiter_blocked(l, "192.0.2.1", 1006));
	assert_false(web_limiter_blocked(l, "192.0.2.2", 1006));
	/* the window is counted from the first failure */
	assert_true(web_limiter_blocked(l, "192.0.2.1", 1000 + 899));
	assert_false(web_limiter_blocked(l, "192.0.2.1", 1000 + 900));
	/* a success clears a name */
	for (int i = 0; i < 5; i++)
		web_limiter_fail(l, "dave", 5000);
	assert_true(web_limiter_blocked(l, "dave", 5001));
	web_limiter_clear(l, "dave");
	assert_false(web_limiter_blocked(l, "dave", 5001));
	web_limiter_free(l);
}

static void limiter_flood_stays_bounded(void **state)
{
	web_limiter *l = web_limiter_new(128, 5, 900);
	char name[64];

	(void)state;
	for (int i = 0; i < 5; i++)
		web_limiter_fail(l, "victim", 100);
	/* 100000 random names later, memory is the same 128 slots */
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "flood-%d", i);
		web_limiter_fail(l, name, 200);
	}
	assert_int_equal(web_limiter_used(l), 128);
	/* keys longer than a slot are cut, not overflowed */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	web_limiter_fail(l, name, 300);
	assert_int_equal(web_limiter_used(l), 128);
	web_limiter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tokens),
		cmocka_unit_test(signed_login_tokens),
		cmocka_unit_test(expiry_on_an_injected_clock),
		cmocka_unit_test(new_id_per_login_and_logout),
		cmocka_unit_test(bounded_table),
		cmocka_unit_test(limiter_blocks_after_the_limit),
		cmocka_unit_test(limiter_flood_stays_bounded),
	};
	return cmocka_run_group_tests_name("web_session", tests, NULL, NULL);
}
