/* SPDX-License-Identifier: BSD-2-Clause */
/* store - content-addressed objects, zstd and CMS, written durably (see store.h) */
#include "milters/archive/store.h"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <zstd.h>

#define CHUNK ((size_t)64 * 1024)
#define PLAIN_SUFFIX ".eml.zst"
#define SEALED_SUFFIX ".eml.zst.p7m"
#define TEMP_PREFIX ".tmp-"
#define TEMP_MAX_AGE (24 * 3600)

struct arc_store {
	char *dir;
	char *objdir;
	int level;
	const arc_seal *seal;
	arc_owner owner;
	unsigned char name_key[ARC_NAME_KEY_LEN];
	int have_name_key;
	char *host;		/* names this host's temporary files, "" when alone */
};

/* arc_store_open - object store under dir/objects */
arc_store *arc_store_open(const char *dir, int level, const arc_seal *seal,
			  const arc_owner *owner, char **err)
{
	arc_store *s = pn_calloc(1, sizeof(*s));
	struct stat st;

	s->dir = pn_strdup(dir);
	s->host = pn_strdup("");
	s->objdir = pn_asprintf("%s/objects", dir);
	s->level = level;
	s->seal = seal && arc_seal_count(seal) ? seal : NULL;
	if (owner)
		s->owner = *owner;
	if (arc_mkdir(s->objdir, 0750, &s->owner) < 0 && stat(s->objdir, &st) < 0) {
		*err = pn_asprintf("cannot create %s: %s", s->objdir, strerror(errno));
		arc_store_close(s);
		return NULL;
	}
	return s;
}

/* arc_store_close - release the store */
void arc_store_close(arc_store *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s->name_key, sizeof(s->name_key));
	pn_free(s->dir);
	pn_free(s->objdir);
	pn_free(s->host);
	pn_free(s);
}

/* obj_path - file name of an object in one of its two forms */
static char *obj_path(const arc_store *s, const char *sha, int encrypted)
{
	return pn_asprintf("%s/%.2s/%s%s", s->objdir, sha, sha,
			   encrypted ? SEALED_SUFFIX : PLAIN_SUFFIX);
}

/* arc_source_each - the message's bytes in chunks */
int arc_source_each(arc_source *src, arc_write_fn fn, void *ctx)
{
	const char *p = src->head;
	size_t left = src->head_len;
	char *buf;
	long n;

	while (left > 0) {
		size_t k = left > CHUNK ? CHUNK : left;
		if (fn(ctx, p, k) < 0)
			return -1;
		p += k;
		left -= k;
	}
	if (src->body == NULL)
		return 0;
	if (pn_spool_rewind(src->body) < 0)
		return -1;
	buf = pn_malloc(CHUNK);
	while ((n = pn_spool_read(src->body, buf, CHUNK)) > 0)
		if (fn(ctx, buf, (size_t)n) < 0)
			break;
	pn_free(buf);
	return n == 0 ? 0 : -1;
}

typedef struct hash_ctx {
	pn_sha256 *h;
	unsigned long long n;
	arc_meta *meta;
} hash_ctx;

/* hash_write - first pass: digest, size and index fields */
static int hash_write(void *ctx, const void *data, size_t len)
{
	hash_ctx *c = ctx;

	pn_sha256_update(c->h, data, len);
	c->n += len;
	if (c->meta)
		arc_meta_feed(c->meta, data, len);
	return 0;
}

/* hex_final - finish a digest as hex */
static void hex_final(pn_sha256 *h, char out[65])
{
	unsigned char d[PN_SHA256_LEN];

	pn_sha256_final(h, d);
	pn_sha256_free(h);
	pn_hex(d, sizeof(d), out);
}

/* arc_store_hash - SHA-256, size and (optionally) index fields of a source */
int arc_store_hash(arc_source *src, char sha[65], unsigned long long *size, arc_meta *meta)
{
	hash_ctx c = {pn_sha256_new(), 0, meta};
	int rc = arc_source_each(src, hash_write, &c);

	hex_final(c.h, sha);
	if (meta)
		arc_meta_finish(meta);
	*size = c.n;
	return rc;
}

/* arc_store_set_name_key - the key that names the objects of a sealed store */
void arc_store_set_name_key(arc_store *s, const unsigned char key[ARC_NAME_KEY_LEN])
{
	memcpy(s->name_key, key, ARC_NAME_KEY_LEN);
	s->have_name_key = 1;
}

/* arc_store_keyed - whether new objects are named by HMAC rather than SHA-256 */
int arc_store_keyed(const arc_store *s)
{
	return s->seal != NULL && s->have_name_key;
}

/* arc_store_name - the name a source is stored under: keyed when sealed */
int arc_store_name(const arc_store *s, arc_source *src, char name[65], unsigned long long *size,
		   arc_meta *meta)
{
	hash_ctx c = {NULL, 0, meta};
	int rc;

	if (!arc_store_keyed(s))
		return arc_store_hash(src, name, size, meta);
	c.h = pn_hmac_sha256_new(s->name_key, sizeof(s->name_key));
	rc = arc_source_each(src, hash_write, &c);
	hex_final(c.h, name);
	if (meta)
		arc_meta_finish(meta);
	*size = c.n;
	return rc;
}

/* The file end of the write pipeline: hash what is stored and write it. */
typedef struct file_out {
	int fd;
	pn_sha256 *h;
	unsigned long long n;
	int err;
} file_out;

/* file_write - stored bytes to the temporary file */
static int file_write(void *ctx, const void *data, size_t len)
{
	file_out *f = ctx;

	if (f->err)
		return -1;
	pn_sha256_update(f->h, data, len);
	f->n += len;
	if (arc_write_all(f->fd, data, len) < 0) {
		f->err = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

/* The compressor: plaintext in, zstd frame out to next. */
typedef struct zpipe {
	ZSTD_CCtx *c;
	arc_write_fn next;
	void *next_ctx;
	char *buf;
	size_t cap;
	const char *zerr;
	int failed;
} zpipe;

/* z_run - compress input (or end the frame) until done */
static int z_run(zpipe *z, const void *data, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {data, len, 0};

	for (;;) {
		ZSTD_outBuffer out = {z->buf, z->cap, 0};
		size_t left = ZSTD_compressStream2(z->c, &out, &in, mode);
		if (ZSTD_isError(left)) {
			z->zerr = ZSTD_getErrorName(left);
			z->failed = 1;
			return -1;
		}
		if (out.pos && z->next(z->next_ctx, z->buf, out.pos) < 0) {
			z->failed = 1;
			return -1;
		}
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

/* z_write - more plaintext for the compressor */
static int z_write(void *ctx, const void *data, size_t len)
{
	zpipe *z = ctx;

	return z->failed ? -1 : z_run(z, data, len, ZSTD_e_continue);
}

/* seal_write - compressed bytes into the CMS stream */
static int seal_write(void *ctx, const void *data, size_t len)
{
	return arc_sealer_write(ctx, data, len);
}

/* arc_store_set_host - the host whose temporary files this handle writes */
void arc_store_set_host(arc_store *s, const char *host)
{
	pn_free(s->host);
	s->host = pn_strdup(host ? host : "");
}

/* temp_open - a new temporary file in dir */
static int temp_open(const arc_store *s, const char *dir, char **path)
{
	unsigned int r;
	int fd, tries;

	for (tries = 0; tries < 10; tries++) {
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (unsigned int)time(NULL) ^ (unsigned int)tries;
		*path = pn_asprintf("%s/" TEMP_PREFIX "%ld-%08x%s%s", dir, (long)getpid(), r,
				    *s->host ? "." : "", s->host);
		fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		pn_free(*path);
		*path = NULL;
	}
	errno = EEXIST;
	return -1;
}

/* put_error - message for a failed write, from errno or the codec */
static char *put_error(const char *what, const char *path, int e, const char *why)
{
	if (why)
		return pn_asprintf("%s %s: %s", what, path, why);
	return pn_asprintf("%s %s: %s", what, path, strerror(e ? e : EIO));
}

/* same_file - two paths name one inode */
static int same_file(const char *a, const char *b)
{
	struct stat x, y;

	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* publish - give the temporary file its object name, only if no other
 * writer did: 0 done, 1 the name exists already, -1 error (errno) */
static int publish(const char *tmp, const char *final)
{
	int e;

	/* link(2) is the exclusive create a rename is not: a rename would
	 * replace the other writer's file, whose stored bytes it may have
	 * journaled already (another compression level, another CMS
	 * envelope). It is atomic on NFS too. */
	if (link(tmp, final) == 0)
		return 0;
	e = errno;
	/* NFS: a retransmitted link that had succeeded reports an error */
	if (same_file(tmp, final))
		return 0;
	if (e == EEXIST)
		return 1;
	if (e == EPERM || e == ENOSYS || e == EOPNOTSUPP || e == EXDEV) {
		/* a file system without hard links: rename, unless it exists */
		if (access(final, F_OK) == 0)
			return 1;
		if (rename(tmp, final) == 0)
			return 0;
		e = errno;
	}
	errno = e;
	return -1;
}

/* arc_store_put - compress (and seal) a source into its object file */
int arc_store_put(arc_store *s, arc_source *src, const char *sha, unsigned long long size,
		  arc_object *obj, char **err)
{
	char *sub = pn_asprintf("%s/%.2s", s->objdir, sha), *tmp = NULL, *final = NULL;
	file_out f = {-1, NULL, 0, 0};
	zpipe z;
	arc_sealer *w = NULL;
	char *serr = NULL;
	int rc = -1;

	memset(&z, 0, sizeof(z));
	*err = NULL;
	if (arc_mkdir(sub, 0750, &s->owner) < 0) {
		*err = put_error("cannot create", sub, errno, NULL);
		goto done;
	}
	if ((f.fd = temp_open(s, sub, &tmp)) < 0) {
		*err = put_error("cannot create a temporary file in", sub, errno, NULL);
		goto done;
	}
	arc_owner_fd(&s->owner, f.fd);
	f.h = pn_sha256_new();
	z.c = ZSTD_createCCtx();
	z.cap = ZSTD_CStreamOutSize();
	z.buf = pn_malloc(z.cap);
	if (z.c == NULL || ZSTD_isError(ZSTD_CCtx_setParameter(z.c, ZSTD_c_compressionLevel, s->level))
	    || ZSTD_isError(ZSTD_CCtx_setParameter(z.c, ZSTD_c_checksumFlag, 1))
	    || ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(z.c, size))) {
		*err = pn_strdup("cannot set up the zstd compressor");
		goto done;
	}
	if (s->seal) {
		if ((w = arc_sealer_new(s->seal, file_write, &f, &serr)) == NULL) {
			*err = put_error("cannot encrypt", tmp, 0, serr);
			goto done;
		}
		z.next = seal_write;
		z.next_ctx = w;
	} else {
		z.next = file_write;
		z.next_ctx = &f;
	}
	if (arc_source_each(src, z_write, &z) < 0 || z_run(&z, NULL, 0, ZSTD_e_end) < 0
	    || (w && arc_sealer_finish(w, &serr) < 0)) {
		*err = put_error("cannot write", tmp, f.err ? f.err : errno,
				 z.zerr ? z.zerr : (f.err ? NULL : serr));
		goto done;
	}
	if (pn_metric_fsync(PN_MF_ARCHIVE_OBJECT, f.fd) < 0) {
		*err = put_error("cannot fsync", tmp, errno, NULL);
		goto done;
	}
	if (close(f.fd) < 0) {
		f.fd = -1;
		*err = put_error("cannot close", tmp, errno, NULL);
		goto done;
	}
	f.fd = -1;
	final = obj_path(s, sha, s->seal != NULL);
	switch (publish(tmp, final)) {
	case -1:
		*err = put_error("cannot create", final, errno, NULL);
		goto done;
	case 1:
		/* another writer (process or host) stored it first: theirs
		 * stays, so the bytes journaled are the bytes on disk */
		unlink(tmp);
		pn_free(tmp);
		tmp = NULL;
		if (arc_store_stat(s, sha, obj) < 0) {
			*err = put_error("cannot read", final, errno, NULL);
			goto done;
		}
		obj->size = size;
		obj->time = (long long)time(NULL);
		rc = 0;
		goto done;
	default:
		break;
	}
	unlink(tmp);
	pn_free(tmp);
	tmp = NULL;
	if (arc_fsync_dir(sub) < 0) {
		*err = put_error("cannot fsync", sub, errno, NULL);
		goto done;
	}
	memset(obj, 0, sizeof(*obj));
	memcpy(obj->sha256, sha, 65);
	hex_final(f.h, obj->stored_sha256);
	f.h = NULL;
	obj->size = size;
	obj->stored_size = f.n;
	obj->encrypted = s->seal != NULL;
	obj->time = (long long)time(NULL);
	rc = 0;
done:
	if (f.fd >= 0)
		close(f.fd);
	if (tmp) {
		unlink(tmp);
		pn_free(tmp);
	}
	if (f.h)
		pn_sha256_free(f.h);
	arc_sealer_free(w);
	ZSTD_freeCCtx(z.c);
	pn_free(z.buf);
	pn_free(serr);
	pn_free(final);
	pn_free(sub);
	return rc;
}

/* arc_store_find - whether an object exists, in which form and where */
int arc_store_find(const arc_store *s, const char *sha, char **path, int *encrypted)
{
	int enc;

	if (!arc_is_sha256(sha))
		return -1;
	for (enc = 1; enc >= 0; enc--) {
		char *p = obj_path(s, sha, enc);
		if (access(p, F_OK) == 0) {
			if (encrypted)
				*encrypted = enc;
			if (path)
				*path = p;
			else
				pn_free(p);
			return 0;
		}
		pn_free(p);
	}
	return -1;
}

/* arc_store_touch - mark an object as just used */
int arc_store_touch(const arc_store *s, const char *sha)
{
	char *p;
	int rc;

	if (arc_store_find(s, sha, &p, NULL) < 0)
		return -1;
	rc = utimensat(AT_FDCWD, p, NULL, 0);
	pn_free(p);
	return rc;
}

/* hash_file - SHA-256 and size of a file's bytes */
static int hash_file(const char *path, char out[65], unsigned long long *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pn_sha256 *h;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return -1;
	h = pn_sha256_new();
	buf = pn_malloc(CHUNK);
	*size = 0;
	while ((n = read(fd, buf, CHUNK)) > 0 || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		pn_sha256_update(h, buf, (size_t)n);
		*size += (unsigned long long)n;
	}
	pn_free(buf);
	close(fd);
	hex_final(h, out);
	return n < 0 ? -1 : 0;
}

/* arc_store_stat - an object's record rebuilt from its file */
int arc_store_stat(const arc_store *s, const char *sha, arc_object *obj)
{
	char *p;
	int enc;
	struct stat st;
	unsigned long long n;
	unsigned long long content;
	int rc;

	if (arc_store_find(s, sha, &p, &enc) < 0)
		return -1;
	memset(obj, 0, sizeof(*obj));
	memcpy(obj->sha256, sha, 65);
	rc = hash_file(p, obj->stored_sha256, &n);
	obj->stored_size = n;
	obj->encrypted = enc;
	obj->time = stat(p, &st) == 0 ? (long long)st.st_mtime : (long long)time(NULL);
	obj->size = 0;
	if (!enc) {
		/* the frame header tells the content size */
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		char head[18];	/* the largest zstd frame header */
		ssize_t k = fd >= 0 ? read(fd, head, sizeof(head)) : -1;
		if (fd >= 0)
			close(fd);
		if (k > 0 && (content = ZSTD_getFrameContentSize(head, (size_t)k)) != ZSTD_CONTENTSIZE_ERROR
		    && content != ZSTD_CONTENTSIZE_UNKNOWN)
			obj->size = content;
	}
	pn_free(p);
	return rc;
}

/* The decoder: zstd frame in, message out, hashed on the way. */
typedef struct dpipe {
	ZSTD_DCtx *d;
	arc_write_fn out;
	void *ctx;
	pn_sha256 *h;
	pn_sha256 *k;		/* HMAC under the name key, or NULL */
	unsigned long long n;
	char *buf;
	size_t cap;
	size_t last;		/* last return of ZSTD_decompressStream: 0 = frame complete */
	int started;
	const char *zerr;
	int failed;
} dpipe;

/* d_write - compressed bytes into the decoder */
static int d_write(void *ctx, const void *data, size_t len)
{
	dpipe *d = ctx;
	ZSTD_inBuffer in = {data, len, 0};

	if (d->failed)
		return -1;
	while (in.pos < in.size) {
		ZSTD_outBuffer out = {d->buf, d->cap, 0};
		size_t r = ZSTD_decompressStream(d->d, &out, &in);
		if (ZSTD_isError(r)) {
			d->zerr = ZSTD_getErrorName(r);
			d->failed = 1;
			return -1;
		}
		d->started = 1;
		d->last = r;
		if (out.pos) {
			pn_sha256_update(d->h, d->buf, out.pos);
			if (d->k)
				pn_sha256_update(d->k, d->buf, out.pos);
			d->n += out.pos;
			if (d->out && d->out(d->ctx, d->buf, out.pos) < 0) {
				d->failed = 1;
				return -1;
			}
		}
	}
	return 0;
}

/* d_flush - drain output the decoder still holds */
static int d_flush(dpipe *d)
{
	ZSTD_inBuffer in = {NULL, 0, 0};

	while (!d->failed && d->last != 0) {
		ZSTD_outBuffer out = {d->buf, d->cap, 0};
		size_t r = ZSTD_decompressStream(d->d, &out, &in);
		if (ZSTD_isError(r)) {
			d->zerr = ZSTD_getErrorName(r);
			d->failed = 1;
			return -1;
		}
		d->last = r;
		if (out.pos == 0)
			break;
		pn_sha256_update(d->h, d->buf, out.pos);
		if (d->k)
			pn_sha256_update(d->k, d->buf, out.pos);
		d->n += out.pos;
		if (d->out && d->out(d->ctx, d->buf, out.pos) < 0) {
			d->failed = 1;
			return -1;
		}
	}
	return 0;
}

/* decode - an object's message through out; SHA-256, HMAC ("" without the
 * name key) and size of what came out */
static int decode(const arc_store *s, const char *path, int enc, const arc_key *key,
		  arc_write_fn out, void *ctx, char sha[65], char keyed[65],
		  unsigned long long *size, char **err)
{
	dpipe d;
	int fd, rc = -1;

	memset(&d, 0, sizeof(d));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*err = pn_asprintf("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	d.d = ZSTD_createDCtx();
	d.cap = ZSTD_DStreamOutSize();
	d.buf = pn_malloc(d.cap);
	d.h = pn_sha256_new();
	d.k = s->have_name_key ? pn_hmac_sha256_new(s->name_key, sizeof(s->name_key)) : NULL;
	d.out = out;
	d.ctx = ctx;
	d.last = 1;
	if (enc) {
		char *serr = NULL;
		if (arc_unseal(key, fd, d_write, &d, &serr) < 0) {
			if (d.zerr)
				*err = pn_asprintf("%s: zstd: %s", path, d.zerr);
			else
				*err = pn_asprintf("%s: %s", path, serr ? serr : "cannot decrypt");
			pn_free(serr);
			goto done;
		}
	} else {
		ssize_t n;
		char *buf = pn_malloc(CHUNK);
		while ((n = read(fd, buf, CHUNK)) > 0 || (n < 0 && errno == EINTR))
			if (n > 0 && d_write(&d, buf, (size_t)n) < 0)
				break;
		pn_free(buf);
		if (n < 0) {
			*err = pn_asprintf("cannot read %s: %s", path, strerror(errno));
			goto done;
		}
	}
	if (d_flush(&d) < 0 || d.failed) {
		*err = d.zerr ? pn_asprintf("%s: zstd: %s", path, d.zerr)
			      : pn_asprintf("%s: cannot write the message", path);
		goto done;
	}
	if (!d.started || d.last != 0) {
		*err = pn_asprintf("%s: zstd: truncated frame", path);
		goto done;
	}
	rc = 0;
done:
	hex_final(d.h, sha);
	keyed[0] = '\0';
	if (d.k)
		hex_final(d.k, keyed);
	*size = d.n;
	ZSTD_freeDCtx(d.d);
	pn_free(d.buf);
	close(fd);
	return rc;
}

/* names_content - the name is the content's SHA-256 (plain or older
 * objects) or its HMAC under the name key (objects of a sealed store) */
static int names_content(const char *name, const char *sha, const char *keyed)
{
	return strcmp(name, sha) == 0 || (*keyed && strcmp(name, keyed) == 0);
}

/* arc_store_read - the original message of an object, checked against its name */
int arc_store_read(const arc_store *s, const char *sha, const arc_key *key,
		   arc_write_fn out, void *ctx, char **err)
{
	char *path, got[65], keyed[65];
	unsigned long long n;
	int enc, rc;

	*err = NULL;
	if (arc_store_find(s, sha, &path, &enc) < 0) {
		*err = pn_asprintf("object %s does not exist", sha);
		return -1;
	}
	if (enc && key == NULL) {
		*err = pn_asprintf("object %s is encrypted: give the private key with --key", sha);
		pn_free(path);
		return -1;
	}
	rc = decode(s, path, enc, key, out, ctx, got, keyed, &n, err);
	if (rc == 0 && !names_content(sha, got, keyed)) {
		*err = pn_asprintf("%s: content does not match its name (SHA-256 %s%s)", path, got,
				   s->have_name_key ? ", nor its keyed name" : "");
		rc = -1;
	}
	pn_free(path);
	return rc;
}

/* arc_store_check - rehash an object: 0 sound, 1 corrupt, -1 missing */
int arc_store_check(const arc_store *s, const char *sha, const arc_key *key, arc_object *got,
		    char **err)
{
	char *path, content[65], keyed[65];
	unsigned long long n;
	int enc;

	*err = NULL;
	memset(got, 0, sizeof(*got));
	memcpy(got->sha256, sha, 65);
	if (arc_store_find(s, sha, &path, &enc) < 0) {
		*err = pn_strdup("missing");
		return -1;
	}
	got->encrypted = enc;
	if (hash_file(path, got->stored_sha256, &got->stored_size) < 0) {
		*err = pn_asprintf("cannot read %s: %s", path, strerror(errno));
		pn_free(path);
		return -1;
	}
	if (enc && key == NULL) {
		pn_free(path);
		return 0;	/* only the stored bytes can be checked */
	}
	if (decode(s, path, enc, key, NULL, NULL, content, keyed, &n, err) < 0) {
		pn_free(path);
		return 1;
	}
	got->size = n;
	if (!names_content(sha, content, keyed)) {
		*err = pn_asprintf("content hashes to %s%s", content,
				   s->have_name_key ? " and is not keyed to its name" : "");
		pn_free(path);
		return 1;
	}
	pn_free(path);
	return 0;
}

/* arc_store_remove - delete an object (both forms) */
int arc_store_remove(const arc_store *s, const char *sha)
{
	char *sub = pn_asprintf("%s/%.2s", s->objdir, sha);
	int enc, removed = 0, rc = 0;

	for (enc = 0; enc <= 1; enc++) {
		char *p = obj_path(s, sha, enc);
		if (unlink(p) == 0)
			removed = 1;
		else if (errno != ENOENT)
			rc = -1;
		pn_free(p);
	}
	if (removed && arc_fsync_dir(sub) < 0)
		rc = -1;
	pn_free(sub);
	return rc;
}

/* is_subdir_name - two lower-case hex digits */
static int is_subdir_name(const char *n)
{
	return strlen(n) == 2 && strspn(n, "0123456789abcdef") == 2;
}

/* temp_is_stale - a temporary file whose writer is gone (or very old) */
static int temp_is_stale(const arc_store *s, const char *name, const struct stat *st, int all)
{
	char *end;
	long pid = strtol(name + strlen(TEMP_PREFIX), &end, 10);
	const char *host = strchr(end, '.');

	if (time(NULL) - st->st_mtime > TEMP_MAX_AGE && all)
		return 1;
	/* another host's writer: its pid means nothing here */
	if (strcmp(host ? host + 1 : "", s->host) != 0)
		return 0;
	if (pid <= 0)
		return 1;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* arc_store_clean_temps - remove temporary files of dead writers */
size_t arc_store_clean_temps(const arc_store *s, int all)
{
	DIR *top = opendir(s->objdir), *sub;
	struct dirent *e, *f;
	size_t removed = 0;

	if (top == NULL)
		return 0;
	while ((e = readdir(top)) != NULL) {
		char *dir;
		if (!is_subdir_name(e->d_name))
			continue;
		dir = pn_asprintf("%s/%s", s->objdir, e->d_name);
		if ((sub = opendir(dir)) != NULL) {
			while ((f = readdir(sub)) != NULL) {
				struct stat st;
				char *p;
				if (strncmp(f->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0)
					continue;
				p = pn_asprintf("%s/%s", dir, f->d_name);
				if (lstat(p, &st) == 0 && temp_is_stale(s, f->d_name, &st, all)
				    && unlink(p) == 0)
					removed++;
				pn_free(p);
			}
			closedir(sub);
		}
		pn_free(dir);
	}
	closedir(top);
	return removed;
}

/* object_name - sha and form of an object file name, or -1 */
static int object_name(const char *name, char sha[65], int *enc)
{
	size_t n = strlen(name);

	if (n < 64)
		return -1;
	memcpy(sha, name, 64);
	sha[64] = '\0';
	if (!arc_is_sha256(sha))
		return -1;
	if (strcmp(name + 64, PLAIN_SUFFIX) == 0)
		*enc = 0;
	else if (strcmp(name + 64, SEALED_SUFFIX) == 0)
		*enc = 1;
	else
		return -1;
	return 0;
}

/* arc_store_each - every object file */
int arc_store_each(const arc_store *s, arc_object_fn fn, void *ctx)
{
	DIR *top = opendir(s->objdir), *sub;
	struct dirent *e, *f;
	int rc = 0;

	if (top == NULL)
		return errno == ENOENT ? 0 : -1;
	while (rc == 0 && (e = readdir(top)) != NULL) {
		char *dir;
		if (!is_subdir_name(e->d_name))
			continue;
		dir = pn_asprintf("%s/%s", s->objdir, e->d_name);
		if ((sub = opendir(dir)) != NULL) {
			while (rc == 0 && (f = readdir(sub)) != NULL) {
				arc_object o;
				struct stat st;
				char *p;
				memset(&o, 0, sizeof(o));
				if (object_name(f->d_name, o.sha256, &o.encrypted) < 0)
					continue;
				p = pn_asprintf("%s/%s", dir, f->d_name);
				if (stat(p, &st) == 0) {
					o.time = (long long)st.st_mtime;
					o.stored_size = (unsigned long long)st.st_size;
					if (strncmp(o.sha256, e->d_name, 2) == 0)
						rc = fn(ctx, &o) < 0 ? 1 : 0;
				}
				pn_free(p);
			}
			closedir(sub);
		}
		pn_free(dir);
	}
	closedir(top);
	return rc < 0 ? -1 : 0;
}
