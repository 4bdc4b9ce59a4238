/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	fileio - whole-file reads and complete writes
 * SYNOPSIS
 *	#include "common/fileio.h"
 *
 *	char *pn_read_file(const char *path, size_t max, size_t *len);
 *	char *pn_read_fd(int fd, size_t max, size_t *len);
 *	int   pn_write_all(int fd, const void *data, size_t len);
 *	int   pn_replace_file(const char *path, const void *data, size_t len,
 *	                      int durable, const char **step);
 *	void  pn_cloexec_above_stdio(void);
 * DESCRIPTION
 *	pn_read_file() reads a whole file (message files for the offline
 *	tools, scripts, policy files) into a NUL-terminated buffer of at most
 *	max bytes (0: 64 MB); *len receives the size. The caller frees the
 *	result with pn_free(). pn_read_fd() reads the rest of an open
 *	descriptor the same way (the caller fstat()s it first when the
 *	file's identity must match the text read) and leaves it open.
 *
 *	pn_write_all() writes every byte, retrying after EINTR and short
 *	writes, because a short write to a spool or an archive must never pass
 *	for a complete one.
 *
 *	pn_replace_file() replaces path by data so that a reader (or a
 *	crash) sees the old file or the new one, never a part: it writes
 *	PATH.tmp (mode 0600; a leftover of a crash is removed, never
 *	followed: O_EXCL, O_NOFOLLOW), then renames it over path. With
 *	durable, the data and then the directory are flushed to disk first.
 *
 *	pn_cloexec_above_stdio() marks every descriptor above 2 close-on-exec.
 *	A child about to exec a program (sendmail, postconf) calls it after
 *	fork() so the program never holds the daemon's sockets and files. It
 *	marks rather than closes because valgrind keeps descriptors of its own
 *	up there, and is async-signal-safe (close_range(2), or fcntl(2) on
 *	the first 4096 descriptors where the kernel lacks it).
 * DIAGNOSTICS
 *	pn_read_file() and pn_read_fd() return NULL with errno set (EFBIG
 *	when the file is larger than max). pn_write_all() returns 0, or -1 with errno set.
 *	pn_replace_file() returns 0, or -1 with errno set and *step naming
 *	what failed ("create", "write" or "rename"; the temporary file is
 *	gone then).
 */
#ifndef PN_FILEIO_H
#define PN_FILEIO_H

#include <stddef.h>

char *pn_read_file(const char *path, size_t max, size_t *len);
char *pn_read_fd(int fd, size_t max, size_t *len);
int pn_write_all(int fd, const void *data, size_t len);
int pn_replace_file(const char *path, const void *data, size_t len, int durable,
		    const char **step);

void pn_cloexec_above_stdio(void);

#endif
