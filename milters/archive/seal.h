/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	seal - CMS AuthEnvelopedData encryption of archive objects (OpenSSL)
 * SYNOPSIS
 *	#include "milters/archive/seal.h"
 *
 *	typedef int (*arc_write_fn)(void *ctx, const void *data, size_t len);
 *
 *	arc_seal *arc_seal_load(const char *files, char **err);
 *	size_t arc_seal_count(const arc_seal *s);
 *	void arc_seal_free(arc_seal *s);
 *
 *	arc_sealer *arc_sealer_new(const arc_seal *s, arc_write_fn out, void *ctx,
 *	                           char **err);
 *	int  arc_sealer_write(arc_sealer *w, const void *data, size_t len);
 *	int  arc_sealer_finish(arc_sealer *w, char **err);
 *	void arc_sealer_free(arc_sealer *w);
 *
 *	arc_key *arc_key_load(const char *path, const char *cert_path, char **err);
 *	void arc_key_free(arc_key *k);
 *	int  arc_unseal(const arc_key *k, int fd, arc_write_fn out, void *ctx,
 *	                char **err);
 * DESCRIPTION
 *	Encrypted objects are CMS AuthEnvelopedData (RFC 5083) in DER/BER,
 *	with AES-256-GCM authenticated content encryption (RFC 5084) and one
 *	RecipientInfo per X.509 certificate: RSAES-OAEP key transport with
 *	SHA-256 and MGF1-SHA-256 (RFC 8017) for RSA certificates, ephemeral-
 *	static ECDH key agreement with the SHA-256 X9.63 KDF and AES key wrap
 *	(RFC 5753) for EC ones. Changed
 *	bytes fail the GCM tag, so a damaged or altered object never
 *	decrypts to something else. Objects written by earlier versions
 *	(EnvelopedData, AES-256-CBC, RSA PKCS#1 v1.5) still decrypt with
 *	arc_unseal(). Any holder of one of
 *	the private keys reads an object with
 *	    openssl cms -decrypt -inform DER -in OBJECT -inkey KEY | zstd -d
 *	and the host that writes the archive, which has only the
 *	certificates, cannot.
 *
 *	arc_seal_load() reads every certificate from the PEM files named in
 *	files (separated by spaces or commas; one file may hold several
 *	certificates). The result is immutable and may be shared by threads.
 *
 *	A sealer encrypts a stream: the plaintext written to it comes out,
 *	encrypted and encoded, through out(ctx, ...) in pieces, so memory
 *	does not grow with the message. arc_sealer_finish() writes the end
 *	of the structure.
 *
 *	arc_key_load() reads a PEM private key and, if the file (or
 *	cert_path, when not NULL) holds one, the matching certificate, which
 *	picks the right RecipientInfo at once. arc_unseal() decrypts the
 *	object read from fd and hands the plaintext to out. OpenSSL reads
 *	the whole encrypted object into memory first (CMS has no streaming
 *	decryption), so the tools, not the daemon, use it.
 * DIAGNOSTICS
 *	Functions that can fail return NULL or -1 and set *err (caller
 *	frees) with OpenSSL's reason: unreadable file, no certificate, key
 *	that is not a recipient, damaged object. An out() that returns -1
 *	stops the operation.
 */
#ifndef ARC_SEAL_H
#define ARC_SEAL_H

#include <stddef.h>

typedef int (*arc_write_fn)(void *ctx, const void *data, size_t len);

typedef struct arc_seal arc_seal;
typedef struct arc_sealer arc_sealer;
typedef struct arc_key arc_key;

arc_seal *arc_seal_load(const char *files, char **err);
size_t arc_seal_count(const arc_seal *s);
void arc_seal_free(arc_seal *s);

arc_sealer *arc_sealer_new(const arc_seal *s, arc_write_fn out, void *ctx, char **err);
int arc_sealer_write(arc_sealer *w, const void *data, size_t len);
int arc_sealer_finish(arc_sealer *w, char **err);
void arc_sealer_free(arc_sealer *w);

arc_key *arc_key_load(const char *path, const char *cert_path, char **err);
void arc_key_free(arc_key *k);
int arc_unseal(const arc_key *k, int fd, arc_write_fn out, void *ctx, char **err);

#endif
