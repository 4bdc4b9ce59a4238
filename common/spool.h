/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	spool - message body storage: memory up to a limit, then a temp file
 * SYNOPSIS
 *	#include "common/spool.h"
 *
 *	void   pn_spool_configure(const char *dir, int encrypt);
 *	pn_spool *pn_spool_new(size_t mem_limit, const char *tmp_dir);
 *	int    pn_spool_encrypted(const pn_spool *s);
 *	int    pn_spool_write(pn_spool *s, const void *data, size_t len);
 *	size_t pn_spool_size(const pn_spool *s);
 *	int    pn_spool_on_disk(const pn_spool *s);
 *	const char *pn_spool_mem(const pn_spool *s);
 *	int    pn_spool_rewind(pn_spool *s);
 *	long   pn_spool_read(pn_spool *s, void *buf, size_t len);
 *	int    pn_spool_fd(const pn_spool *s);
 *	void   pn_spool_reset(pn_spool *s);
 *	void   pn_spool_free(pn_spool *s);
 * DESCRIPTION
 *	A spool collects the body of one message as libmilter hands it over.
 *	Bodies up to mem_limit bytes stay in memory; the first write past the
 *	limit moves everything to an anonymous file in tmp_dir (O_TMPFILE, or
 *	a file unlinked at once), so nothing is left on disk if the daemon
 *	dies and a large message cannot exhaust memory.
 *
 *	pn_spool_configure() is a process-wide choice for the spools made
 *	after it (each daemon's engine makes it at load): when dir is not
 *	NULL or "", files go there instead of tmp_dir (a daemon keeps them
 *	in its private directory rather than in /tmp); with encrypt, what
 *	goes to the file is encrypted with AES-256-CTR under a random key
 *	and counter drawn for that file and held in the process's memory
 *	only (wiped at reset), so the disk never holds the plaintext and a
 *	file read after a crash, from a disk image or from its blocks, is
 *	noise. CTR and no MAC: the file has no name, lives as long as the
 *	message and is read back by the process that wrote it, which anyone
 *	able to change the file could change as well. pn_spool_encrypted()
 *	tells whether a spool does so; its pn_spool_fd() then holds
 *	ciphertext and must be read through pn_spool_read().
 *
 *	pn_spool_mem() returns the bytes while they are in memory (NULL once
 *	on disk). To read a spool whatever its storage, call pn_spool_rewind()
 *	then pn_spool_read() until it returns 0. pn_spool_reset() empties the
 *	spool for the next message and closes any file.
 * DIAGNOSTICS
 *	pn_spool_write() and pn_spool_rewind() return 0, or -1 with errno set
 *	(ENOSPC, EIO, EMFILE...). pn_spool_read() returns the byte count, 0 at
 *	the end, -1 on error. The caller turns an error into a tempfail.
 */
#ifndef PN_SPOOL_H
#define PN_SPOOL_H

#include <stddef.h>

typedef struct pn_spool pn_spool;

void pn_spool_configure(const char *dir, int encrypt);
pn_spool *pn_spool_new(size_t mem_limit, const char *tmp_dir);
int pn_spool_encrypted(const pn_spool *s);
int pn_spool_write(pn_spool *s, const void *data, size_t len);
size_t pn_spool_size(const pn_spool *s);
int pn_spool_on_disk(const pn_spool *s);
const char *pn_spool_mem(const pn_spool *s);
int pn_spool_rewind(pn_spool *s);
long pn_spool_read(pn_spool *s, void *buf, size_t len);
int pn_spool_fd(const pn_spool *s);
void pn_spool_reset(pn_spool *s);
void pn_spool_free(pn_spool *s);

#endif
