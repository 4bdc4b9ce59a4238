/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	users - postern-web's users file: names, roles, yescrypt hashes
 * SYNOPSIS
 *	#include "milters/web/users.h"
 *
 *	int  web_user_name_ok(const char *name);
 *	web_role web_role_parse(const char *s);
 *	const char *web_role_name(web_role r);
 *	int  web_users_parse_line(const char *line, size_t len, web_user *u,
 *	                          char *hash, size_t hash_size);
 *	int  web_users_lookup(const char *path, const char *name, web_user *u,
 *	                      char *hash, size_t hash_size, char **err);
 *	int  web_password_hash(const char *password, char *out, size_t size);
 *	int  web_password_check(const char *password, const char *hash);
 *	int  web_authenticate(const char *path, const char *name,
 *	                      const char *password, web_user *u, char **err);
 *	int  web_users_set(const char *path, const char *name, web_role role,
 *	                   const char *hash, char **err);
 *	int  web_users_check(const char *path, size_t *accounts, char **err);
 * DESCRIPTION
 *	The users file has one account per line, "name:role:hash", where
 *	role is auditor or admin and hash a crypt(5) string; "#" lines and
 *	blank lines are ignored. `postern-web passwd` writes yescrypt hashes
 *	("$y$", libxcrypt's crypt_gensalt_rn with its default cost).
 *	Argon2 is not offered: libxcrypt does not implement it, and yescrypt
 *	is what Debian uses for /etc/shadow.
 *
 *	A name is 1 to 127 bytes without ':' and without control
 *	characters (web_user_name_ok()), so that a name can never add a
 *	field or a line to the file, nor to a log line.
 *
 *	web_users_lookup() reads the file at every call (so `passwd` takes
 *	effect without a restart). web_password_check() compares in
 *	constant time; web_authenticate() runs one hash computation
 *	whether or not the user exists (against a hash of a random password
 *	for an unknown name), so the answer time does not tell which names
 *	exist.
 *
 *	web_users_check() reads the whole file as `postern-web check` does:
 *	every line must be an account, a comment or blank, and no name may
 *	appear twice (a login would take the first).
 *
 *	web_users_set() adds or replaces one account: the new file is
 *	written beside the old one (mode 0640, the old file's owner and
 *	group when the caller may set them), synced and renamed over it,
 *	so a reader sees the old file or the new one, never a mix.
 * DIAGNOSTICS
 *	web_users_parse_line() returns 1 (an account), 0 (comment or blank)
 *	or -1 (malformed). web_users_lookup() and web_authenticate() return
 *	1 (found / password right), 0 (not found / wrong), -1 with *err
 *	when the file cannot be read. web_password_hash() returns 0 or -1.
 *	web_users_set() returns 0 or -1 with *err. web_users_check() returns
 *	0 with *accounts set, or -1 with *err naming the file and line.
 */
#ifndef WEB_USERS_H
#define WEB_USERS_H

#include <stddef.h>

#include "milters/web/web.h"

#define WEB_HASH_MAX 384	/* libxcrypt's CRYPT_OUTPUT_SIZE */

int web_user_name_ok(const char *name);
web_role web_role_parse(const char *s);
const char *web_role_name(web_role r);
int web_users_parse_line(const char *line, size_t len, web_user *u, char *hash, size_t hash_size);
int web_users_lookup(const char *path, const char *name, web_user *u, char *hash,
		     size_t hash_size, char **err);
int web_password_hash(const char *password, char *out, size_t size);
int web_password_check(const char *password, const char *hash);
int web_authenticate(const char *path, const char *name, const char *password, web_user *u,
		     char **err);
int web_users_set(const char *path, const char *name, web_role role, const char *hash,
		  char **err);
int web_users_check(const char *path, size_t *accounts, char **err);

#endif
