/* SPDX-License-Identifier: BSD-2-Clause */
/* seal - forward-secure sealing keys (see seal.h) */
#include "milters/audit/seal.h"
#include "common/alloc.h"
#include "common/fileio.h"
#include "common/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVOLVED_MAGIC "postern-audit-sealing-key 1\n"

/* key_id - the public name of an initial key */
static int key_id(const unsigned char *key, size_t len, char out[AUDIT_KEY_ID_LEN + 1])
{
	unsigned char d[PN_SHA256_LEN];
	char hex[PN_SHA256_HEX_LEN + 1];

	if (pn_hmac_sha256(key, len, "postern-key-id", 14, d) < 0)
		return -1;
	pn_hex(d, sizeof(d), hex);
	memcpy(out, hex, AUDIT_KEY_ID_LEN);
	out[AUDIT_KEY_ID_LEN] = '\0';
	return 0;
}

/* audit_seal_wipe - forget the key */
void audit_seal_wipe(audit_seal *s)
{
	OPENSSL_cleanse(s->key, sizeof(s->key));
	s->keylen = 0;
}

/* audit_seal_from_bytes - epoch 0 of an initial key */
int audit_seal_from_bytes(const unsigned char *key, size_t len, audit_seal *s)
{
	if (len < AUDIT_SEAL_KEY_MIN || len > AUDIT_SEAL_KEY_MAX)
		return -1;
	memset(s, 0, sizeof(*s));
	memcpy(s->key, key, len);
	s->keylen = len;
	s->epoch = 0;
	return key_id(key, len, s->key_id);
}

/* audit_seal_evolve - one-way step to the next epoch; the old key is wiped */
int audit_seal_evolve(audit_seal *s)
{
	unsigned char msg[13 + 8], next[PN_SHA256_LEN];
	unsigned long long e = s->epoch + 1;
	int i;

	memcpy(msg, "postern-epoch", 13);
	for (i = 0; i < 8; i++)
		msg[13 + i] = (unsigned char)(e >> (56 - 8 * i));
	if (pn_hmac_sha256(s->key, s->keylen, msg, sizeof(msg), next) < 0)
		return -1;
	OPENSSL_cleanse(s->key, sizeof(s->key));
	memcpy(s->key, next, sizeof(next));
	OPENSSL_cleanse(next, sizeof(next));
	s->keylen = PN_SHA256_LEN;
	s->epoch = e;
	return 0;
}

/* audit_seal_advance_to - evolve until epoch */
int audit_seal_advance_to(audit_seal *s, unsigned long long epoch)
{
	if (epoch < s->epoch)
		return -1;
	while (s->epoch < epoch)
		if (audit_seal_evolve(s) < 0)
			return -1;
	return 0;
}

/* unhex - n hex digits to n/2 bytes; -1 on a non-hex digit */
static int unhex(const char *in, size_t n, unsigned char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int c = in[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
				   : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

/* parse_evolved - the daemon's evolved form; -1 when malformed */
static int parse_evolved(char *text, audit_seal *s)
{
	char *p = text + strlen(EVOLVED_MAGIC), *end;
	size_t n;

	memset(s, 0, sizeof(*s));
	if (strncmp(p, "key_id ", 7) != 0)
		return -1;
	p += 7;
	n = strcspn(p, "\n");
	if (n != AUDIT_KEY_ID_LEN)
		return -1;
	memcpy(s->key_id, p, n);
	p += n + 1;
	if (strncmp(p, "epoch ", 6) != 0 || p[6] < '0' || p[6] > '9')
		return -1;
	errno = 0;
	s->epoch = strtoull(p + 6, &end, 10);
	if (errno || *end != '\n')
		return -1;
	p = end + 1;
	if (strncmp(p, "key ", 4) != 0 || strcspn(p + 4, "\n") != 2 * PN_SHA256_LEN
	    || unhex(p + 4, 2 * PN_SHA256_LEN, s->key) < 0)
		return -1;
	s->keylen = PN_SHA256_LEN;
	return 0;
}

/* audit_seal_load - a key file, checked for owner and mode */
int audit_seal_load(const char *path, long want_uid, audit_seal *s, char **err)
{
	char buf[AUDIT_SEAL_KEY_MAX * 2 + 1];
	size_t len = 0;
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	memset(s, 0, sizeof(*s));
	*err = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) {
		*err = pn_asprintf("key file %s: %s", path, errno == ELOOP
				   ? "is a symbolic link (refused)" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = pn_asprintf("key file %s: not a regular file", path);
		goto out;
	}
	if (want_uid != AUDIT_SEAL_NO_CHECK && (st.st_mode & 077)) {
		*err = pn_asprintf("key file %s: mode %04o lets group or others read or write "
				   "it: it must be 0600 (or 0400), owned by the daemon's user "
				   "(chmod 0600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (want_uid != AUDIT_SEAL_NO_CHECK && want_uid >= 0 && st.st_uid != (uid_t)want_uid) {
		*err = pn_asprintf("key file %s: owned by uid %lu: it must be owned by the "
				   "daemon's user (uid %ld), mode 0600", path,
				   (unsigned long)st.st_uid, want_uid);
		goto out;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = pn_asprintf("key file %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len >= strlen(EVOLVED_MAGIC) && memcmp(buf, EVOLVED_MAGIC, strlen(EVOLVED_MAGIC)) == 0) {
		if (parse_evolved(buf, s) < 0) {
			*err = pn_asprintf("key file %s: damaged evolved sealing key", path);
			goto out;
		}
		rc = 0;
		goto out;
	}
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]) && buf[len - 1])
		len--;
	if (len < AUDIT_SEAL_KEY_MIN || len > AUDIT_SEAL_KEY_MAX
	    || audit_seal_from_bytes((unsigned char *)buf, len, s) < 0) {
		*err = pn_asprintf("key file %s: key must be %d to %d bytes, not %zu (make one "
				   "with: openssl rand -hex 32 > %s)", path, AUDIT_SEAL_KEY_MIN,
				   AUDIT_SEAL_KEY_MAX, len, path);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc < 0)
		audit_seal_wipe(s);
	close(fd);
	return rc;
}

/* audit_seal_save - replace path by the evolved key, crash-safe */
int audit_seal_save(const char *path, const audit_seal *s, char **err)
{
	char text[sizeof(EVOLVED_MAGIC) + 64 + 2 * PN_SHA256_LEN + 16];
	char hex[2 * PN_SHA256_LEN + 1];
	const char *step = NULL;
	int len, rc;

	*err = NULL;
	pn_hex(s->key, PN_SHA256_LEN, hex);
	len = snprintf(text, sizeof(text), EVOLVED_MAGIC "key_id %s\nepoch %llu\nkey %s\n",
		       s->key_id, s->epoch, hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	/* durable: an evolved key that a crash loses would leave the trail
	 * sealed under a key nobody holds any more */
	rc = pn_replace_file(path, text, (size_t)len, 1, &step);
	if (rc < 0)
		*err = pn_asprintf("key file %s: cannot %s %s.tmp: %s", path, step, path,
				   strerror(errno));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}
