/* SPDX-License-Identifier: BSD-2-Clause */
/* crypto - SHA-256 and HMAC-SHA256 via OpenSSL EVP (see crypto.h) */
#include "common/crypto.h"
#include "common/alloc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>

struct pn_sha256 {
	EVP_MD_CTX *ctx;	/* plain SHA-256, or NULL */
	EVP_MAC_CTX *mac;	/* HMAC-SHA256, or NULL */
};

/* evp_panic - OpenSSL refused a digest operation that cannot fail */
static void evp_panic(const char *what)
{
	fprintf(stderr, "postern: panic: OpenSSL %s failed\n", what);
	abort();
}

/* pn_sha256_new - start an incremental SHA-256 */
pn_sha256 *pn_sha256_new(void)
{
	pn_sha256 *h = pn_calloc(1, sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		evp_panic("EVP_DigestInit_ex");
	return h;
}

/* pn_hmac_sha256_new - start an incremental HMAC-SHA256 under key */
pn_sha256 *pn_hmac_sha256_new(const void *key, size_t keylen)
{
	pn_sha256 *h = pn_calloc(1, sizeof(*h));
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (mac == NULL || (h->mac = EVP_MAC_CTX_new(mac)) == NULL
	    || EVP_MAC_init(h->mac, key, keylen, params) != 1)
		evp_panic("EVP_MAC_init");
	EVP_MAC_free(mac);	/* the context keeps its own reference */
	return h;
}

/* pn_sha256_update - hash more bytes */
void pn_sha256_update(pn_sha256 *h, const void *data, size_t len)
{
	if (h->mac) {
		if (len && EVP_MAC_update(h->mac, data, len) != 1)
			evp_panic("EVP_MAC_update");
		return;
	}
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		evp_panic("EVP_DigestUpdate");
}

/* pn_sha256_final - write the digest; h may then only be freed */
void pn_sha256_final(pn_sha256 *h, unsigned char out[PN_SHA256_LEN])
{
	unsigned int n = 0;

	if (h->mac) {
		size_t got = 0;
		if (EVP_MAC_final(h->mac, out, &got, PN_SHA256_LEN) != 1 || got != PN_SHA256_LEN)
			evp_panic("EVP_MAC_final");
		return;
	}
	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != PN_SHA256_LEN)
		evp_panic("EVP_DigestFinal_ex");
}

/* pn_sha256_free - release the context (accepts NULL) */
void pn_sha256_free(pn_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MAC_CTX_free(h->mac);	/* wipes the key copy it holds */
	pn_free(h);
}

/* pn_sha256_once - digest of one buffer */
void pn_sha256_once(const void *data, size_t len, unsigned char out[PN_SHA256_LEN])
{
	pn_sha256 *h = pn_sha256_new();

	pn_sha256_update(h, data, len);
	pn_sha256_final(h, out);
	pn_sha256_free(h);
}

/* pn_hmac_sha256 - keyed MAC of one buffer */
int pn_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		   unsigned char out[PN_SHA256_LEN])
{
	unsigned int n = 0;

	if (keylen > 0x7fffffff)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n) == NULL
	    || n != PN_SHA256_LEN)
		return -1;
	return 0;
}

/* pn_hex - lowercase hex encoding with a terminating NUL */
void pn_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* pn_ct_equal - constant-time comparison; 1 when equal */
int pn_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/* pn_crypto_thread_end - free OpenSSL's state for this thread now */
void pn_crypto_thread_end(void)
{
	OPENSSL_thread_stop();
}
