/* SPDX-License-Identifier: BSD-2-Clause */
/* spool - body storage in memory, then in an anonymous temp file (see spool.h) */
#include "common/spool.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32		/* AES-256 */
#define IV_LEN 16		/* the CTR counter block */
#define CRYPT_CHUNK 65536

struct pn_spool {
	pn_buf mem;
	size_t mem_limit;
	char *tmp_dir;
	int fd;			/* -1 while the body is in memory */
	size_t size;
	size_t read_pos;	/* for reading from memory */
	int encrypt;		/* files hold AES-256-CTR under a key in memory only */
	unsigned char key[KEY_LEN], iv[IV_LEN];
	EVP_CIPHER_CTX *enc;	/* writes: keystream position = size */
	EVP_CIPHER_CTX *dec;	/* reads: from the last rewind */
	char *cbuf;		/* ciphertext scratch */
};

/* The process-wide choice set by pn_spool_configure(). */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static char *config_dir;
static int config_encrypt;

/* pn_spool_configure - directory and encryption for every later spool */
void pn_spool_configure(const char *dir, int encrypt)
{
	pthread_mutex_lock(&config_lock);
	pn_free(config_dir);
	config_dir = dir && *dir ? pn_strdup(dir) : NULL;
	config_encrypt = encrypt;
	pthread_mutex_unlock(&config_lock);
}

/* pn_spool_new - empty spool */
pn_spool *pn_spool_new(size_t mem_limit, const char *tmp_dir)
{
	pn_spool *s = pn_calloc(1, sizeof(*s));

	pn_buf_init(&s->mem, mem_limit ? mem_limit : 1);
	s->mem_limit = mem_limit;
	pthread_mutex_lock(&config_lock);
	if (config_dir)
		s->tmp_dir = pn_strdup(config_dir);
	s->encrypt = config_encrypt;
	pthread_mutex_unlock(&config_lock);
	if (s->tmp_dir == NULL)
		s->tmp_dir = pn_strdup(tmp_dir && *tmp_dir ? tmp_dir : "/tmp");
	s->fd = -1;
	return s;
}

/* pn_spool_encrypted - whether the file, once there is one, is encrypted */
int pn_spool_encrypted(const pn_spool *s)
{
	return s->encrypt;
}

/* open_anonymous - a file with no name, so nothing outlives the process */
static int open_anonymous(const char *dir)
{
	int fd;
	char *path;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	/* Filesystems without O_TMPFILE: create and unlink at once. */
	path = pn_asprintf("%s/postern-spool.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	pn_free(path);
	return fd;
}

/* crypt_start - a fresh key and counter for a new file; the key never leaves memory */
static int crypt_start(pn_spool *s)
{
	if (getrandom(s->key, KEY_LEN, 0) != KEY_LEN || getrandom(s->iv, IV_LEN, 0) != IV_LEN)
		return -1;
	if ((s->enc = EVP_CIPHER_CTX_new()) == NULL
	    || EVP_EncryptInit_ex(s->enc, EVP_aes_256_ctr(), NULL, s->key, s->iv) != 1) {
		errno = EIO;
		return -1;
	}
	if (s->cbuf == NULL)
		s->cbuf = pn_malloc(CRYPT_CHUNK);
	return 0;
}

/* crypt_stop - forget the key */
static void crypt_stop(pn_spool *s)
{
	EVP_CIPHER_CTX_free(s->enc);
	EVP_CIPHER_CTX_free(s->dec);
	s->enc = s->dec = NULL;
	OPENSSL_cleanse(s->key, sizeof(s->key));
	OPENSSL_cleanse(s->iv, sizeof(s->iv));
}

/* file_write - bytes to the file, encrypted when asked */
static int file_write(pn_spool *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!s->encrypt)
		return pn_write_all(s->fd, data, len);
	while (len > 0) {
		int n = len > CRYPT_CHUNK ? CRYPT_CHUNK : (int)len, out = 0;
		if (EVP_EncryptUpdate(s->enc, (unsigned char *)s->cbuf, &out, p, n) != 1 || out != n) {
			errno = EIO;
			return -1;
		}
		if (pn_write_all(s->fd, s->cbuf, (size_t)out) < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* pn_spool_write - append bytes, moving to disk past the memory limit */
int pn_spool_write(pn_spool *s, const void *data, size_t len)
{
	if (s->fd < 0 && pn_buf_append(&s->mem, data, len) == 0) {
		s->size += len;
		return 0;
	}
	if (s->fd < 0) {
		int fd = open_anonymous(s->tmp_dir);
		if (fd < 0)
			return -1;
		s->fd = fd;
		if ((s->encrypt && crypt_start(s) < 0)
		    || file_write(s, s->mem.data ? s->mem.data : "", s->mem.len) < 0) {
			int saved = errno;
			close(fd);
			s->fd = -1;
			crypt_stop(s);
			errno = saved;
			return -1;
		}
		if (s->mem.data)
			OPENSSL_cleanse(s->mem.data, s->mem.len);
		pn_buf_free(&s->mem);
		pn_buf_init(&s->mem, s->mem_limit ? s->mem_limit : 1);
	} else if (lseek(s->fd, 0, SEEK_END) < 0) {
		return -1;	/* a read moved the offset: appends go to the end */
	}
	if (file_write(s, data, len) < 0)
		return -1;
	s->size += len;
	return 0;
}

/* pn_spool_size - bytes written so far */
size_t pn_spool_size(const pn_spool *s)
{
	return s->size;
}

/* pn_spool_on_disk - whether the body moved to a file */
int pn_spool_on_disk(const pn_spool *s)
{
	return s->fd >= 0;
}

/* pn_spool_mem - the bytes when held in memory, else NULL */
const char *pn_spool_mem(const pn_spool *s)
{
	return s->fd >= 0 ? NULL : pn_buf_str(&s->mem);
}

/* pn_spool_fd - the file descriptor when on disk, else -1 */
int pn_spool_fd(const pn_spool *s)
{
	return s->fd;
}

/* pn_spool_rewind - start reading from the first byte */
int pn_spool_rewind(pn_spool *s)
{
	s->read_pos = 0;
	if (s->fd >= 0 && lseek(s->fd, 0, SEEK_SET) < 0)
		return -1;
	if (s->fd >= 0 && s->encrypt) {
		/* CTR from the first block again */
		if (s->dec == NULL && (s->dec = EVP_CIPHER_CTX_new()) == NULL) {
			errno = EIO;
			return -1;
		}
		if (EVP_DecryptInit_ex(s->dec, EVP_aes_256_ctr(), NULL, s->key, s->iv) != 1) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

/* pn_spool_read - next bytes; 0 at the end */
long pn_spool_read(pn_spool *s, void *buf, size_t len)
{
	if (s->fd >= 0) {
		for (;;) {
			ssize_t n = read(s->fd, buf, len > CRYPT_CHUNK && s->encrypt ? CRYPT_CHUNK : len);
			int out = 0;
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || !s->encrypt)
				return (long)n;
			if (s->dec == NULL || EVP_DecryptUpdate(s->dec, buf, &out, buf, (int)n) != 1
			    || out != (int)n) {
				errno = EIO;
				return -1;
			}
			return (long)n;
		}
	}
	if (s->read_pos >= s->mem.len)
		return 0;
	if (len > s->mem.len - s->read_pos)
		len = s->mem.len - s->read_pos;
	memcpy(buf, s->mem.data + s->read_pos, len);
	s->read_pos += len;
	return (long)len;
}

/* pn_spool_reset - empty the spool for the next message */
void pn_spool_reset(pn_spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	crypt_stop(s);
	pn_buf_reset(&s->mem);
	s->size = 0;
	s->read_pos = 0;
}

/* pn_spool_free - release memory and file */
void pn_spool_free(pn_spool *s)
{
	if (s == NULL)
		return;
	pn_spool_reset(s);
	pn_buf_free(&s->mem);
	pn_free(s->cbuf);
	pn_free(s->tmp_dir);
	pn_free(s);
}
