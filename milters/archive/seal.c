/* SPDX-License-Identifier: BSD-2-Clause */
/* seal - CMS AuthEnvelopedData through OpenSSL, streamed (see seal.h) */
#include "milters/archive/seal.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct arc_seal {
	STACK_OF(X509) *certs;
};

struct arc_sealer {
	CMS_ContentInfo *cms;
	BIO *sink;		/* callback BIO: the encoded output */
	BIO *chain;		/* write plaintext here */
	int failed;
};

struct arc_key {
	EVP_PKEY *pkey;
	X509 *cert;		/* may be NULL */
};

/* The callback BIO: every write goes to an arc_write_fn. */
typedef struct cb_target {
	arc_write_fn fn;
	void *ctx;
} cb_target;

static BIO_METHOD *cb_method;
static pthread_once_t cb_once = PTHREAD_ONCE_INIT;

/* cb_write - hand written bytes to the callback */
static int cb_write(BIO *b, const char *data, int len)
{
	cb_target *t = BIO_get_data(b);

	if (len <= 0)
		return 0;
	if (t == NULL || t->fn(t->ctx, data, (size_t)len) < 0)
		return -1;
	return len;
}

/* cb_ctrl - flush succeeds; nothing else is supported */
static long cb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b; (void)num; (void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* cb_create - a new callback BIO is ready at once */
static int cb_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* cb_destroy - free the target */
static int cb_destroy(BIO *b)
{
	pn_free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

/* cb_init_method - build the BIO_METHOD once per process */
static void cb_init_method(void)
{
	cb_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "postern callback");
	if (cb_method) {
		BIO_meth_set_write(cb_method, cb_write);
		BIO_meth_set_ctrl(cb_method, cb_ctrl);
		BIO_meth_set_create(cb_method, cb_create);
		BIO_meth_set_destroy(cb_method, cb_destroy);
	}
}

/* cb_bio - a BIO that passes writes to fn(ctx, ...) */
static BIO *cb_bio(arc_write_fn fn, void *ctx)
{
	BIO *b;
	cb_target *t;

	pthread_once(&cb_once, cb_init_method);
	if (cb_method == NULL || (b = BIO_new(cb_method)) == NULL)
		return NULL;
	t = pn_malloc(sizeof(*t));
	t->fn = fn;
	t->ctx = ctx;
	BIO_set_data(b, t);
	return b;
}

/* ssl_error - "what: OpenSSL's reason", clearing OpenSSL's error queue */
static char *ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	/* the reason alone: OpenSSL's full string starts with "error:", a
	 * second severity on the log line */
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return pn_asprintf("%s%s%s", what, reason ? ": " : "", reason ? reason : "");
}

/* arc_seal_load - recipient certificates from PEM files */
arc_seal *arc_seal_load(const char *files, char **err)
{
	arc_seal *s = pn_calloc(1, sizeof(*s));
	char *list = pn_strdup(files ? files : ""), *save = NULL, *name;

	s->certs = sk_X509_new_null();
	for (name = strtok_r(list, " ,\t", &save); name; name = strtok_r(NULL, " ,\t", &save)) {
		FILE *fp = fopen(name, "r");
		X509 *x;
		size_t before = (size_t)sk_X509_num(s->certs);

		if (fp == NULL) {
			*err = pn_asprintf("cannot read certificate file %s: %s", name, strerror(errno));
			goto fail;
		}
		while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL)
			sk_X509_push(s->certs, x);
		ERR_clear_error();	/* the end of the file reads as an error */
		fclose(fp);
		if ((size_t)sk_X509_num(s->certs) == before) {
			*err = pn_asprintf("%s holds no PEM certificate", name);
			goto fail;
		}
	}
	pn_free(list);
	return s;
fail:
	pn_free(list);
	arc_seal_free(s);
	return NULL;
}

/* arc_seal_count - number of recipient certificates */
size_t arc_seal_count(const arc_seal *s)
{
	return s ? (size_t)sk_X509_num(s->certs) : 0;
}

/* arc_seal_free - release the certificates */
void arc_seal_free(arc_seal *s)
{
	if (s == NULL)
		return;
	sk_X509_pop_free(s->certs, X509_free);
	pn_free(s);
}

/* add_recipient - one RecipientInfo: RSA-OAEP with SHA-256 for RSA, ECDH
 * with a SHA-256 KDF for EC, OpenSSL's default for anything else */
static int add_recipient(CMS_ContentInfo *cms, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	int type;

	if (pub == NULL)
		return -1;
	type = EVP_PKEY_get_base_id(pub);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
		return CMS_add1_recipient_cert(cms, cert, 0) ? 0 : -1;
	/* KEY_PARAM leaves the key's context open so that its options can be set */
	if ((ri = CMS_add1_recipient_cert(cms, cert, CMS_KEY_PARAM)) == NULL
	    || (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL)
		return -1;
	if (type == EVP_PKEY_EC)
		return EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) > 0 ? 0 : -1;
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0
	    || EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0
	    || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)
		return -1;
	return 0;
}

/* arc_sealer_new - start an AuthEnvelopedData (AES-256-GCM) stream */
arc_sealer *arc_sealer_new(const arc_seal *s, arc_write_fn out, void *ctx, char **err)
{
	arc_sealer *w = pn_calloc(1, sizeof(*w));
	unsigned flags = CMS_BINARY | CMS_STREAM | CMS_PARTIAL;
	int i;

	/* an AEAD cipher makes CMS_encrypt build AuthEnvelopedData */
	w->cms = CMS_encrypt(NULL, NULL, EVP_aes_256_gcm(), flags);
	if (w->cms == NULL) {
		*err = ssl_error("CMS_encrypt");
		goto fail;
	}
	for (i = 0; i < sk_X509_num(s->certs); i++) {
		if (add_recipient(w->cms, sk_X509_value(s->certs, i)) < 0) {
			*err = ssl_error("cannot add a CMS recipient");
			goto fail;
		}
	}
	if ((w->sink = cb_bio(out, ctx)) == NULL) {
		*err = ssl_error("cannot make an output BIO");
		goto fail;
	}
	if ((w->chain = BIO_new_CMS(w->sink, w->cms)) == NULL) {
		*err = ssl_error("BIO_new_CMS");
		goto fail;
	}
	return w;
fail:
	arc_sealer_free(w);
	return NULL;
}

/* arc_sealer_write - more plaintext */
int arc_sealer_write(arc_sealer *w, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0 && !w->failed) {
		int n = len > 1 << 20 ? 1 << 20 : (int)len;
		int r = BIO_write(w->chain, p, n);
		if (r <= 0) {
			w->failed = 1;
			break;
		}
		p += r;
		len -= (size_t)r;
	}
	return w->failed ? -1 : 0;
}

/* arc_sealer_finish - encrypt the last block and close the structure */
int arc_sealer_finish(arc_sealer *w, char **err)
{
	if (w->failed || BIO_flush(w->chain) <= 0) {
		*err = ssl_error("cannot finish the CMS structure");
		w->failed = 1;
		return -1;
	}
	return 0;
}

/* arc_sealer_free - release the stream (the output callback is not called) */
void arc_sealer_free(arc_sealer *w)
{
	if (w == NULL)
		return;
	/* free the filter BIOs BIO_new_CMS stacked on the sink, then the sink */
	while (w->chain && w->chain != w->sink) {
		BIO *next = BIO_pop(w->chain);
		BIO_free(w->chain);
		w->chain = next;
	}
	BIO_free(w->sink);
	CMS_ContentInfo_free(w->cms);
	pn_free(w);
}

/* arc_key_load - a private key and, if available, its certificate */
arc_key *arc_key_load(const char *path, const char *cert_path, char **err)
{
	arc_key *k = pn_calloc(1, sizeof(*k));
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		*err = pn_asprintf("cannot read key file %s: %s", path, strerror(errno));
		pn_free(k);
		return NULL;
	}
	k->pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	if (k->pkey == NULL) {
		fclose(fp);
		*err = ssl_error("no usable PEM private key");
		arc_key_free(k);
		return NULL;
	}
	if (cert_path == NULL) {
		/* the key file may carry the certificate as well */
		rewind(fp);
		k->cert = PEM_read_X509(fp, NULL, NULL, NULL);
	}
	fclose(fp);
	ERR_clear_error();
	if (cert_path) {
		if ((fp = fopen(cert_path, "r")) == NULL) {
			*err = pn_asprintf("cannot read certificate %s: %s", cert_path, strerror(errno));
			arc_key_free(k);
			return NULL;
		}
		k->cert = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
		if (k->cert == NULL) {
			*err = ssl_error("no PEM certificate");
			arc_key_free(k);
			return NULL;
		}
	}
	if (k->cert && X509_check_private_key(k->cert, k->pkey) != 1) {
		ERR_clear_error();
		X509_free(k->cert);	/* not this key's: let OpenSSL try every recipient */
		k->cert = NULL;
	}
	return k;
}

/* arc_key_free - release a key */
void arc_key_free(arc_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	X509_free(k->cert);
	pn_free(k);
}

/* arc_unseal - decrypt the CMS object read from fd into out */
int arc_unseal(const arc_key *k, int fd, arc_write_fn out, void *ctx, char **err)
{
	BIO *in = BIO_new_fd(fd, BIO_NOCLOSE), *sink = NULL;
	CMS_ContentInfo *cms = NULL;
	int rc = -1;

	if (in == NULL) {
		*err = ssl_error("BIO_new_fd");
		return -1;
	}
	if ((cms = d2i_CMS_bio(in, NULL)) == NULL) {
		*err = ssl_error("not a CMS structure");
		goto done;
	}
	/* AuthEnvelopedData since 2026; EnvelopedData (AES-CBC) in older objects */
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_id_smime_ct_authEnvelopedData
	    && OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
		*err = pn_strdup("CMS structure is neither AuthEnvelopedData nor EnvelopedData");
		goto done;
	}
	if ((sink = cb_bio(out, ctx)) == NULL) {
		*err = ssl_error("cannot make an output BIO");
		goto done;
	}
	if (CMS_decrypt(cms, k->pkey, k->cert, NULL, sink, CMS_BINARY) != 1) {
		*err = ssl_error("cannot decrypt (is this key a recipient?)");
		goto done;
	}
	rc = 0;
done:
	BIO_free(sink);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return rc;
}
