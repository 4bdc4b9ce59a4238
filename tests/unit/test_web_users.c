/* SPDX-License-Identifier: BSD-2-Clause */
/* test_web_users - postern-web's users file: yescrypt round trip, names that
 * could add a field or a line, the atomic rewrite and its mode */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "milters/web/users.h"
#include "tests/unit/testlib.h"

static void hash_round_trip(void **state)
{
	char h[WEB_HASH_MAX], h2[WEB_HASH_MAX];

	(void)state;
	assert_int_equal(web_password_hash("correct horse", h, sizeof(h)), 0);
	assert_true(strncmp(h, "$y$", 3) == 0);
	assert_true(web_password_check("correct horse", h));
	assert_false(web_password_check("correct horsE", h));
	assert_false(web_password_check("", h));
	/* a new salt each time */
	assert_int_equal(web_password_hash("correct horse", h2, sizeof(h2)), 0);
	assert_string_not_equal(h, h2);
	/* hashes that are not hashes never match */
	assert_false(web_password_check("x", "*"));
	assert_false(web_password_check("x", "plain"));
	/* too small an output buffer */
	assert_int_equal(web_password_hash("x", h, 10), -1);
}

static void names(void **state)
{
	char longname[200];

	(void)state;
	assert_true(web_user_name_ok("alice"));
	assert_true(web_user_name_ok("jürgen.o'neil@example.org"));
	assert_false(web_user_name_ok(""));
	assert_false(web_user_name_ok(NULL));
	assert_false(web_user_name_ok("eve:admin"));
	assert_false(web_user_name_ok("eve\nmallory:admin:$y$x"));
	assert_false(web_user_name_ok("eve\r"));
	assert_false(web_user_name_ok("a\tb"));
	assert_false(web_user_name_ok("del\x7f"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(web_user_name_ok(longname));
	longname[127] = '\0';
	assert_true(web_user_name_ok(longname));
	longname[127] = 'a';	/* 128 bytes: one too many */
	longname[128] = '\0';
	assert_false(web_user_name_ok(longname));
}

static void parse_lines(void **state)
{
	static const struct {
		const char *line;
		int want;
	} cases[] = {
		{"alice:admin:$y$j9T$abc$def", 1},
		{"bob:auditor:$y$x", 1},
		{"bob:auditor:$y$x\r", 1},
		{"# comment", 0},
		{"   ", 0},
		{"", 0},
		{"carol:root:$y$x", -1},
		{"carol::$y$x", -1},
		{"carol:admin:", -1},
		{"carol:admin", -1},
		{":admin:$y$x", -1},
		{"carol:admin:$y$x:extra", -1},
		{"carol:admin:has space", -1},
		{"car\x01ol:admin:$y$x", -1},
	};
	web_user u;
	char hash[WEB_HASH_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = web_users_parse_line(cases[i].line, strlen(cases[i].line), &u, hash,
					       sizeof(hash));
		if (got != cases[i].want)
			fail_msg("\"%s\": %d, want %d", cases[i].line, got, cases[i].want);
	}
	assert_int_equal(web_users_parse_line("alice:admin:$y$j9T$abc$def", 26, &u, hash,
					      sizeof(hash)), 1);
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.role, WEB_ROLE_ADMIN);
	assert_string_equal(hash, "$y$j9T$abc$def");
	/* a NUL inside the line is not a shorter line */
	assert_int_equal(web_users_parse_line("alice\0x:admin:$y$x", 18, &u, hash, sizeof(hash)), -1);
}

static void rewrite(void **state)
{
	const char *dir = t_tmpdir("web-users");
	char *path = pn_asprintf("%s/web.users", dir), *text, *err = NULL, h[WEB_HASH_MAX];
	web_user u;
	struct stat st;

	(void)state;
	assert_int_equal(t_write_file(path, "# accounts\nbob:auditor:$y$old\ncarol:admin:$y$c\n", 47),
			 0);
	assert_int_equal(web_password_hash("new secret", h, sizeof(h)), 0);
	assert_int_equal(web_users_set(path, "bob", WEB_ROLE_ADMIN, h, &err), 0);
	assert_int_equal(web_users_set(path, "dave", WEB_ROLE_AUDITOR, "$y$d", &err), 0);
	text = t_read_file(path, NULL);
	assert_non_null(text);
	/* comment and other accounts kept, bob replaced in place, dave added */
	assert_true(strncmp(text, "# accounts\nbob:admin:$y$", 24) == 0);
	assert_non_null(strstr(text, "\ncarol:admin:$y$c\ndave:auditor:$y$d\n"));
	assert_null(strstr(text, "$y$old"));
	pn_free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(web_users_lookup(path, "bob", &u, h, sizeof(h), &err), 1);
	assert_int_equal(u.role, WEB_ROLE_ADMIN);
	assert_int_equal(web_authenticate(path, "bob", "new secret", &u, &err), 1);
	assert_int_equal(web_authenticate(path, "bob", "old secret", &u, &err), 0);
	assert_int_equal(web_authenticate(path, "nobody", "new secret", &u, &err), 0);
	assert_int_equal(web_authenticate(path, "bob:admin", "x", &u, &err), 0);
	/* names that would add a field or a line are refused, the file unchanged */
	assert_int_equal(web_users_set(path, "eve\nmallory", WEB_ROLE_ADMIN, "$y$e", &err), -1);
	assert_non_null(err);
	pn_free(err);
	err = NULL;
	assert_int_equal(web_users_set(path, "eve:admin", WEB_ROLE_ADMIN, "$y$e", &err), -1);
	pn_free(err);
	err = NULL;
	assert_int_equal(web_users_set(path, "eve", WEB_ROLE_ADMIN, "$y$e\nx:admin:$y$", &err), -1);
	pn_free(err);
	err = NULL;
	assert_int_equal(web_users_lookup(path, "eve", &u, h, sizeof(h), &err), 0);
	/* a new file */
	pn_free(path);
	path = pn_asprintf("%s/new.users", dir);
	assert_int_equal(web_users_set(path, "frank", WEB_ROLE_AUDITOR, "$y$f", &err), 0);
	assert_int_equal(web_users_lookup(path, "frank", &u, h, sizeof(h), &err), 1);
	/* a missing file is an error for login */
	pn_free(path);
	path = pn_asprintf("%s/absent.users", dir);
	assert_int_equal(web_authenticate(path, "frank", "x", &u, &err), -1);
	assert_non_null(err);
	pn_free(err);
	pn_free(path);
}

static void check_whole_file(void **state)
{
	const char *dir = t_tmpdir("web-users-check");
	char *path = pn_asprintf("%s/web.users", dir), *err = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(t_write_file(path, "# x\n\nbob:auditor:$y$a\nann:admin:$y$b\n", 37), 0);
	assert_int_equal(web_users_check(path, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(t_write_file(path, "bob:auditor:$y$a\nbob:admin:$y$b\n", 32), 0);
	assert_int_equal(web_users_check(path, &n, &err), -1);
	assert_non_null(strstr(err, ":2: user \"bob\" again"));
	pn_free(err);
	err = NULL;
	assert_int_equal(t_write_file(path, "bob:auditor:$y$a\n# ok\nroot:superuser:$y$c\n", 42),
			 0);
	assert_int_equal(web_users_check(path, &n, &err), -1);
	assert_non_null(strstr(err, "web.users:3: not"));
	pn_free(err);
	err = NULL;
	assert_int_equal(t_write_file(path, "", 0), 0);
	assert_int_equal(web_users_check(path, &n, &err), 0);
	assert_int_equal(n, 0);
	pn_free(path);
	path = pn_asprintf("%s/absent", dir);
	assert_int_equal(web_users_check(path, &n, &err), -1);
	assert_non_null(err);
	pn_free(err);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hash_round_trip),
		cmocka_unit_test(names),
		cmocka_unit_test(parse_lines),
		cmocka_unit_test(rewrite),
		cmocka_unit_test(check_whole_file),
	};
	return cmocka_run_group_tests_name("web_users", tests, NULL, NULL);
}
