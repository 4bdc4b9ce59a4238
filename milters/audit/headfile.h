/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	headfile - the audit trail's persisted head and identity
 * SYNOPSIS
 *	#include "milters/audit/headfile.h"
 *
 *	int audit_headfile_read(const char *path, audit_headfile *h,
 *	                        char **err);
 *	int audit_headfile_write(const char *path, const audit_headfile *h,
 *	                         int durable, char **err);
 * DESCRIPTION
 *	What the daemon knows of the trail it wrote, kept in a small file
 *	(by default .NAME.head beside the trail file) so that neither a
 *	restart nor someone editing the trail can make it adopt a shorter
 *	or altered file: the trail's identity (random trail id, host,
 *	creation time), the last record it wrote (seq and SHA-256 of the
 *	line), the size, device and inode of the trail file after that
 *	record, and the sealing state (key id, epoch, records sealed in
 *	the epoch, when the epoch began). One "name value" line each:
 *
 *	    postern-audit-head 1
 *	    trail_id HEX32
 *	    host NAME
 *	    created RFC3339
 *	    seq N
 *	    hash HEX64
 *	    size BYTES
 *	    dev N
 *	    ino N
 *	    key_id HEX16 or -
 *	    epoch N
 *	    epoch_records N
 *	    epoch_start UNIXTIME
 *
 *	`postern-audit verify --head-file` reads the same file to know
 *	which trail it expects and where it must end.
 *
 *	audit_headfile_write() writes a temporary file beside path
 *	(O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), fsyncs it when durable, and
 *	renames it over path: readers see the old head or the new one,
 *	never half of one. audit_headfile_read() opens with O_NOFOLLOW and
 *	refuses anything but a regular file.
 * DIAGNOSTICS
 *	audit_headfile_read() returns 1, 0 when path does not exist, or -1
 *	with *err (pn_free) when it cannot be read or is malformed.
 *	audit_headfile_write() returns 0 or -1 with *err.
 */
#ifndef AUDIT_HEADFILE_H
#define AUDIT_HEADFILE_H

#include "common/crypto.h"
#include "milters/audit/seal.h"

#define AUDIT_TRAIL_ID_LEN 32

typedef struct audit_headfile {
	char trail_id[AUDIT_TRAIL_ID_LEN + 1];
	char host[256];
	char created[40];
	unsigned long long seq;
	char hash[PN_SHA256_HEX_LEN + 1];
	long long size;
	unsigned long long dev, ino;
	char key_id[AUDIT_KEY_ID_LEN + 1];	/* "" when records are not sealed */
	unsigned long long epoch, epoch_records;
	long long epoch_start;
} audit_headfile;

int audit_headfile_read(const char *path, audit_headfile *h, char **err);
int audit_headfile_write(const char *path, const audit_headfile *h, int durable, char **err);

#endif
