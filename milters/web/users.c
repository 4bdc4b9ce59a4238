/* SPDX-License-Identifier: BSD-2-Clause */
/* users - the users file and its yescrypt hashes (see users.h) */
#include "milters/web/users.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* web_user_name_ok - 1..127 bytes, no ':' and no control character */
int web_user_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL || *name == '\0')
		return 0;
	for (; name[n]; n++) {
		unsigned char c = (unsigned char)name[n];
		if (c < 0x20 || c == 0x7f || c == ':' || n >= sizeof(((web_user *)0)->name) - 1)
			return 0;
	}
	return 1;
}

/* web_role_parse - "auditor" or "admin", else WEB_ROLE_NONE */
web_role web_role_parse(const char *s)
{
	if (s && strcmp(s, "auditor") == 0)
		return WEB_ROLE_AUDITOR;
	if (s && strcmp(s, "admin") == 0)
		return WEB_ROLE_ADMIN;
	return WEB_ROLE_NONE;
}

/* web_role_name - the role as written in the file */
const char *web_role_name(web_role r)
{
	return r == WEB_ROLE_ADMIN ? "admin" : r == WEB_ROLE_AUDITOR ? "auditor" : "none";
}

/* web_users_parse_line - one line (without its newline) of the file */
int web_users_parse_line(const char *line, size_t len, web_user *u, char *hash, size_t hash_size)
{
	const char *c1, *c2, *end = line + len;
	size_t i;
	char role[16];

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		end = line + --len;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || line[i] == '#')
		return 0;
	if (memchr(line, '\0', len))
		return -1;
	if ((c1 = memchr(line, ':', len)) == NULL
	    || (c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) == NULL)
		return -1;
	if ((size_t)(c1 - line) >= sizeof(u->name) || (size_t)(c2 - c1 - 1) >= sizeof(role)
	    || (size_t)(end - c2 - 1) >= hash_size || end == c2 + 1)
		return -1;
	memcpy(u->name, line, (size_t)(c1 - line));
	u->name[c1 - line] = '\0';
	memcpy(role, c1 + 1, (size_t)(c2 - c1 - 1));
	role[c2 - c1 - 1] = '\0';
	memcpy(hash, c2 + 1, (size_t)(end - c2 - 1));
	hash[end - c2 - 1] = '\0';
	if (!web_user_name_ok(u->name) || (u->role = web_role_parse(role)) == WEB_ROLE_NONE)
		return -1;
	for (i = 0; hash[i]; i++)
		if ((unsigned char)hash[i] < 0x21 || hash[i] == ':' || hash[i] == 0x7f)
			return -1;
	return 1;
}

/* read_file - the whole users file; NULL with *err, or "" when absent and missing_ok */
static char *read_file(const char *path, int missing_ok, size_t *len, char **err)
{
	FILE *fp = fopen(path, "re");
	pn_buf b;
	char chunk[4096];
	size_t n;

	if (fp == NULL) {
		if (missing_ok && errno == ENOENT) {
			*len = 0;
			return pn_strdup("");
		}
		*err = pn_asprintf("cannot read users file %s: %s", path, strerror(errno));
		return NULL;
	}
	pn_buf_init(&b, 16 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (pn_buf_append(&b, chunk, n) < 0) {
			*err = pn_asprintf("users file %s: too large", path);
			fclose(fp);
			pn_buf_free(&b);
			return NULL;
		}
	if (ferror(fp)) {
		*err = pn_asprintf("cannot read users file %s: %s", path, strerror(errno));
		fclose(fp);
		pn_buf_free(&b);
		return NULL;
	}
	fclose(fp);
	pn_buf_putc(&b, '\0');	/* an empty file still gets storage */
	b.len--;
	return pn_buf_steal(&b, len);
}

/* web_users_lookup - the account called name */
int web_users_lookup(const char *path, const char *name, web_user *u, char *hash,
		     size_t hash_size, char **err)
{
	size_t len;
	char *text = read_file(path, 0, &len, err), *p, *nl;
	int found = 0;

	if (text == NULL)
		return -1;
	for (p = text; !found && p < text + len; p = nl + 1) {
		web_user cand;
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL)
			nl = text + len;
		if (web_users_parse_line(p, (size_t)(nl - p), &cand, hash, hash_size) == 1
		    && strcmp(cand.name, name) == 0) {
			*u = cand;
			found = 1;
		}
	}
	if (!found && hash_size)
		hash[0] = '\0';
	pn_free(text);
	return found;
}

/* web_password_hash - a new yescrypt hash of password */
int web_password_hash(const char *password, char *out, size_t size)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int rc = -1;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL)
		return -1;
	cd = pn_calloc(1, sizeof(*cd));
	h = crypt_rn(password, setting, cd, sizeof(*cd));
	if (h && h[0] != '*' && strlen(h) < size) {
		memcpy(out, h, strlen(h) + 1);
		rc = 0;
	}
	OPENSSL_cleanse(cd, sizeof(*cd));
	pn_free(cd);
	return rc;
}

/* web_password_check - 1 when password hashes to hash (constant-time compare) */
int web_password_check(const char *password, const char *hash)
{
	struct crypt_data *cd = pn_calloc(1, sizeof(*cd));
	const char *h = crypt_rn(password, hash, cd, sizeof(*cd));
	size_t n = strlen(hash);
	int ok = h && h[0] != '*' && strlen(h) == n && n > 0
		 && CRYPTO_memcmp(h, hash, n) == 0;

	OPENSSL_cleanse(cd, sizeof(*cd));
	pn_free(cd);
	return ok;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[WEB_HASH_MAX];

/* make_dummy - a hash of a random password, the work an unknown name costs */
static void make_dummy(void)
{
	unsigned char r[16];
	char pw[33];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0x5a, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(pw + 2 * i, 3, "%02x", r[i]);
	if (web_password_hash(pw, dummy_hash, sizeof(dummy_hash)) < 0)
		snprintf(dummy_hash, sizeof(dummy_hash), "*");
}

/* web_authenticate - 1 when name exists and password is right */
int web_authenticate(const char *path, const char *name, const char *password, web_user *u,
		     char **err)
{
	char hash[WEB_HASH_MAX];
	int found = 0, ok;

	pthread_once(&dummy_once, make_dummy);
	if (web_user_name_ok(name)
	    && (found = web_users_lookup(path, name, u, hash, sizeof(hash), err)) < 0)
		return -1;
	/* the same work for a name that does not exist */
	ok = web_password_check(password, found ? hash : dummy_hash);
	OPENSSL_cleanse(hash, sizeof(hash));
	return found && ok;
}

/* web_users_set - add or replace name's line, atomically */
int web_users_set(const char *path, const char *name, web_role role, const char *hash,
		  char **err)
{
	size_t len;
	char *text, *p, *nl, *dir_copy = NULL, *tmp = NULL;
	pn_buf out;
	struct stat st;
	int fd = -1, replaced = 0, rc = -1, dfd;

	if (!web_user_name_ok(name) || role == WEB_ROLE_NONE || strchr(hash, ':')
	    || strchr(hash, '\n')) {
		*err = pn_asprintf("refusing user name \"%s\": 1 to 127 characters, no ':' and no "
				   "control characters", name);
		return -1;
	}
	if ((text = read_file(path, 1, &len, err)) == NULL)
		return -1;
	pn_buf_init(&out, 0);
	for (p = text; p < text + len; p = nl + 1) {
		web_user u;
		char h[WEB_HASH_MAX];
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL)
			nl = text + len;
		if (web_users_parse_line(p, (size_t)(nl - p), &u, h, sizeof(h)) == 1
		    && strcmp(u.name, name) == 0) {
			if (!replaced)
				pn_buf_printf(&out, "%s:%s:%s\n", name, web_role_name(role), hash);
			replaced = 1;
			continue;
		}
		pn_buf_append(&out, p, (size_t)(nl - p));
		pn_buf_putc(&out, '\n');
	}
	if (!replaced)
		pn_buf_printf(&out, "%s:%s:%s\n", name, web_role_name(role), hash);
	tmp = pn_asprintf("%s.tmpXXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		*err = pn_asprintf("cannot create %s: %s", tmp, strerror(errno));
		pn_free(tmp);
		tmp = NULL;
		goto done;
	}
	if (fchmod(fd, 0640) < 0)
		goto io;
	if (stat(path, &st) == 0 && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
		goto io;
	if (write(fd, pn_buf_str(&out), pn_buf_len(&out)) != (ssize_t)pn_buf_len(&out)
	    || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto io;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto io;
	pn_free(tmp);
	tmp = NULL;
	dir_copy = pn_strdup(path);
	if ((dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto done;
io:
	*err = pn_asprintf("cannot write users file %s: %s", path, strerror(errno));
done:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		pn_free(tmp);
	}
	pn_free(dir_copy);
	OPENSSL_cleanse(out.data, out.cap);
	pn_buf_free(&out);
	pn_free(text);
	return rc;
}

/* web_users_check - every line well-formed, every name once */
int web_users_check(const char *path, size_t *accounts, char **err)
{
	size_t len, line = 0, n = 0, i;
	char *text = read_file(path, 0, &len, err), *p, *nl, hash[WEB_HASH_MAX];
	char (*names)[sizeof(((web_user *)0)->name)] = NULL;
	int rc = 0;

	if (text == NULL)
		return -1;
	for (p = text; rc == 0 && p < text + len; p = nl + 1) {
		web_user u;
		int got;
		line++;
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL)
			nl = text + len;
		if ((got = web_users_parse_line(p, (size_t)(nl - p), &u, hash, sizeof(hash))) < 0) {
			*err = pn_asprintf("%s:%zu: not \"name:auditor|admin:hash\" (a name of 1 to "
					   "127 characters without ':' or control characters)", path,
					   line);
			rc = -1;
		} else if (got == 1) {
			for (i = 0; i < n; i++)
				if (strcmp(names[i], u.name) == 0) {
					*err = pn_asprintf("%s:%zu: user \"%s\" again", path, line,
							   u.name);
					rc = -1;
				}
			names = pn_realloc(names, (n + 1) * sizeof(*names));
			memcpy(names[n++], u.name, sizeof(u.name));
		}
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	pn_free(names);
	pn_free(text);
	*accounts = n;
	return rc;
}
