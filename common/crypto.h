/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	crypto - SHA-256 and HMAC-SHA256 through OpenSSL EVP
 * SYNOPSIS
 *	#include "common/crypto.h"
 *
 *	pn_sha256 *pn_sha256_new(void);
 *	void pn_sha256_update(pn_sha256 *h, const void *data, size_t len);
 *	void pn_sha256_final(pn_sha256 *h, unsigned char out[PN_SHA256_LEN]);
 *	void pn_sha256_free(pn_sha256 *h);
 *	pn_sha256 *pn_hmac_sha256_new(const void *key, size_t keylen);
 *
 *	void pn_sha256_once(const void *data, size_t len, unsigned char out[32]);
 *	int  pn_hmac_sha256(const void *key, size_t keylen, const void *data,
 *	                    size_t len, unsigned char out[32]);
 *	void pn_hex(const unsigned char *in, size_t len, char *out);
 *	int  pn_ct_equal(const void *a, const void *b, size_t len);
 *	void pn_crypto_thread_end(void);
 * DESCRIPTION
 *	Incremental SHA-256 (for message bodies that arrive in chunks) and
 *	one-shot helpers. pn_hmac_sha256_new() starts an incremental
 *	HMAC-SHA256 under key instead; it is then fed, finished and freed
 *	with the same pn_sha256_* calls. Nothing here is home-made: every digest is computed
 *	by OpenSSL's EVP interface. pn_hex() writes 2*len lowercase hex digits
 *	and a NUL (out needs 2*len+1 bytes). pn_ct_equal() compares in
 *	constant time (for MAC checks). pn_crypto_thread_end() frees what
 *	OpenSSL keeps for the calling thread (its error queue and the like)
 *	now rather than when the thread exits: a thread about to end calls
 *	it, so a process that exits meanwhile holds nothing of it.
 * DIAGNOSTICS
 *	pn_hmac_sha256() returns 0 on success, -1 on an OpenSSL error.
 *	An EVP failure in the incremental interface is a panic (abort):
 *	it means OpenSSL itself is broken.
 */
#ifndef PN_CRYPTO_H
#define PN_CRYPTO_H

#include <stddef.h>

#define PN_SHA256_LEN 32
#define PN_SHA256_HEX_LEN 64

typedef struct pn_sha256 pn_sha256;

pn_sha256 *pn_sha256_new(void);
void pn_sha256_update(pn_sha256 *h, const void *data, size_t len);
void pn_sha256_final(pn_sha256 *h, unsigned char out[PN_SHA256_LEN]);
void pn_sha256_free(pn_sha256 *h);
pn_sha256 *pn_hmac_sha256_new(const void *key, size_t keylen);
void pn_sha256_once(const void *data, size_t len, unsigned char out[PN_SHA256_LEN]);
int pn_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		   unsigned char out[PN_SHA256_LEN]);
void pn_hex(const unsigned char *in, size_t len, char *out);
int pn_ct_equal(const void *a, const void *b, size_t len);
void pn_crypto_thread_end(void);

#endif
