/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	seal - forward-secure sealing keys of the audit trail
 * SYNOPSIS
 *	#include "milters/audit/seal.h"
 *
 *	int audit_seal_load(const char *path, long want_uid, audit_seal *s,
 *	                    char **err);
 *	int audit_seal_save(const char *path, const audit_seal *s, char **err);
 *	int audit_seal_evolve(audit_seal *s);
 *	int audit_seal_advance_to(audit_seal *s, unsigned long long epoch);
 *	void audit_seal_wipe(audit_seal *s);
 * DESCRIPTION
 *	Journald's Forward Secure Sealing is the model. The administrator
 *	makes an initial key (`openssl rand -hex 32 > FILE`) and keeps a
 *	copy offline. Records are MACed with the key of their epoch; epoch
 *	0 uses the initial key's bytes, and the key of epoch e+1 is
 *
 *	    K(e+1) = HMAC-SHA256(K(e), "postern-epoch" || e+1 as 8 bytes
 *	             big-endian)
 *
 *	a one-way step: whoever steals K(e) from the running host can seal
 *	records of epoch e and later, never of an earlier epoch, and a
 *	verifier holding the initial key derives every K(e) forward. The key
 *	id names a key lineage without revealing it: the first 16 hex
 *	digits of HMAC-SHA256(initial key, "postern-key-id").
 *
 *	audit_seal_load() reads a key file in either form: the initial key
 *	(its bytes, trailing white space removed, 16 to 4096 bytes, epoch
 *	0), or the evolved form the daemon writes,
 *
 *	    postern-audit-sealing-key 1
 *	    key_id HEX16
 *	    epoch E
 *	    key HEX64
 *
 *	It opens with O_NOFOLLOW and refuses a file that is not regular, is
 *	readable or writable by group or others (mode must be 0600 or
 *	0400), or, when want_uid >= 0, not owned by that uid.
 *	want_uid AUDIT_SEAL_NO_CHECK skips mode and owner (verify reading
 *	the administrator's offline copy).
 *	audit_seal_save() replaces path with the evolved form: a temporary
 *	file beside it (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), written,
 *	fsync'd, renamed over path, and the directory fsync'd, so a crash
 *	leaves the old or the new key, never none, and never an old one
 *	that a restart would reuse after the new one sealed records.
 *	audit_seal_evolve() steps to the next epoch and wipes the old key
 *	(OPENSSL_cleanse); audit_seal_advance_to() steps until epoch.
 *	audit_seal_wipe() wipes the key in s.
 * DIAGNOSTICS
 *	audit_seal_load() and audit_seal_save() return 0, or -1 with *err
 *	(pn_free) naming the file and the reason. audit_seal_evolve() and
 *	audit_seal_advance_to() return 0, or -1 when OpenSSL fails or epoch
 *	is older than s's.
 */
#ifndef AUDIT_SEAL_H
#define AUDIT_SEAL_H

#include <stddef.h>

#define AUDIT_SEAL_KEY_MIN 16
#define AUDIT_SEAL_KEY_MAX 4096
#define AUDIT_KEY_ID_LEN 16
#define AUDIT_SEAL_ANY_OWNER (-1L)
#define AUDIT_SEAL_NO_CHECK (-2L)	/* verify reading an offline key */

typedef struct audit_seal {
	char key_id[AUDIT_KEY_ID_LEN + 1];
	unsigned long long epoch;
	size_t keylen;
	unsigned char key[AUDIT_SEAL_KEY_MAX];
} audit_seal;

int audit_seal_load(const char *path, long want_uid, audit_seal *s, char **err);
int audit_seal_save(const char *path, const audit_seal *s, char **err);
int audit_seal_from_bytes(const unsigned char *key, size_t len, audit_seal *s);
int audit_seal_evolve(audit_seal *s);
int audit_seal_advance_to(audit_seal *s, unsigned long long epoch);
void audit_seal_wipe(audit_seal *s);

#endif
